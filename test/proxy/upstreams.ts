// Upstreams for the pull-through cache's tests, all on loopback: Debian's
// docker-registry (distribution 2.8.2) with htpasswd Basic auth, and the app of a
// test registry listening on a port of its own.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import type { Blob } from '../support/fixtures.ts';

export const DISTRIBUTION = '/usr/bin/docker-registry';

export interface Distribution {
  url: string;
  user: string;
  password: string;
  stop(): Promise<void>;
}

/** A free loopback port (closed again at once; the child binds it next). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * distribution 2.8.2 with htpasswd auth (its htpasswd takes bcrypt only, which
 * perl's crypt(3) (libxcrypt) makes), or `anonymous`: no auth, as Docker Hub's pulls.
 */
export async function startDistribution(opts: { anonymous?: boolean } = {}): Promise<Distribution> {
  const dir = mkdtempSync(join(tmpdir(), 'bollard-upstream-'));
  const user = 'puller';
  const password = 'pull-secret';
  const hash = execFileSync('perl', ['-e', 'print crypt($ARGV[0], q($2b$05$) . $ARGV[1])', password, 'abcdefghijklmnopqrstuu'], { encoding: 'utf8' });
  writeFileSync(join(dir, 'htpasswd'), `${user}:${hash}\n`);
  const port = await freePort();
  writeFileSync(join(dir, 'config.yml'), [
    'version: 0.1',
    'log: {level: error}',
    `storage: {filesystem: {rootdirectory: ${join(dir, 'data')}}, delete: {enabled: true}}`,
    `http: {addr: 127.0.0.1:${port}}`,
    ...(opts.anonymous ? [] : [`auth: {htpasswd: {realm: upstream, path: ${join(dir, 'htpasswd')}}}`]),
  ].join('\n'));
  const child: ChildProcess = spawn(DISTRIBUTION, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const status = await fetch(`${url}/v2/`).then((r) => r.status, () => 0);
    if (status === (opts.anonymous ? 200 : 401)) break;
    if (i > 100 || child.exitCode !== null) throw new Error(`docker-registry did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url, user, password,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Pushes a blob to a registry at `url` (monolithic POST, as skopeo's small blobs go). */
export async function pushBlobTo(url: string, auth: string, repo: string, b: Blob): Promise<void> {
  const res = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { Authorization: auth } });
  if (res.status !== 202) throw new Error(`upload start: ${res.status}`);
  const location = new URL(res.headers.get('location') as string, url);
  location.searchParams.set('digest', b.digest);
  const put = await fetch(location, { method: 'PUT', headers: { Authorization: auth, 'Content-Type': 'application/octet-stream' }, body: b.data });
  if (put.status !== 201) throw new Error(`upload finish: ${put.status} ${await put.text()}`);
}

export async function pushManifestTo(url: string, auth: string, repo: string, ref: string, m: Blob, mediaType: string): Promise<void> {
  const res = await fetch(`${url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', headers: { Authorization: auth, 'Content-Type': mediaType }, body: m.data });
  if (res.status !== 201) throw new Error(`manifest push: ${res.status} ${await res.text()}`);
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Serves an app (or a bare handler) on a loopback port. */
export async function listen(handler: Express | Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer(handler as Parameters<typeof createServer>[1]);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, server, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}
