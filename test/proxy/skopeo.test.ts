// skopeo pulls through the cache of a real `bollard serve`, whose upstream is
// distribution 2.8.2 with htpasswd auth and whose password comes from a file:
// a single image and a multi-platform index (--all: the index, then each child
// by digest, all committed as sparse manifests and completed blob by blob). Then
// with the upstream stopped, the same pulls are served from the cache alone.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type ServerProcess } from '../support/server.ts';
import { initLayout, writeImage, writeIndex, writeIndexJson, type Descriptor } from '../e2e/oci-layout.ts';
import { DISTRIBUTION, startDistribution, type Distribution } from './upstreams.ts';

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('skopeo', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('error', (err) => resolve({ code: null, stdout: Buffer.alloc(0), stderr: String(err) }));
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    });
  });
}

const HAVE = existsSync(DISTRIBUTION) && (await run(['--version'], process.env)).code === 0;

describe.skipIf(!HAVE)('skopeo through the pull-through cache of bollard serve', () => {
  let work: string;
  let layout: string;
  let env: NodeJS.ProcessEnv;
  let flags: string[];
  let upstream: Distribution;
  let server: ServerProcess;
  let single: Descriptor;
  let multi: Descriptor;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'bollard-proxy-skopeo-'));
    layout = join(work, 'layout');
    await initLayout(layout);
    const image = await writeImage(layout, { platform: { architecture: 'amd64', os: 'linux' }, layers: [[{ path: 'a.bin', randomSize: 300 * 1024 }]] });
    const arm = await writeImage(layout, { platform: { architecture: 'arm64', os: 'linux' }, layers: [[{ path: 'b.bin', randomSize: 200 * 1024 }]] });
    single = image.manifest;
    multi = await writeIndex(layout, [image, arm]);
    await writeIndexJson(layout, [{ ref: 'v1', descriptor: single }, { ref: 'multi', descriptor: multi }]);
    for (const d of ['home', 'tmp', 'run']) await mkdir(join(work, d), { recursive: true, mode: 0o700 });
    await writeFile(join(work, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    await writeFile(join(work, 'registries.conf'), 'unqualified-search-registries = []\n');
    env = {
      PATH: process.env.PATH, HOME: join(work, 'home'), TMPDIR: join(work, 'tmp'), XDG_RUNTIME_DIR: join(work, 'run'),
      REGISTRY_AUTH_FILE: join(work, 'auth.json'), CONTAINERS_REGISTRIES_CONF: join(work, 'registries.conf'),
      ...(process.getuid?.() === 0 ? { _CONTAINERS_ROOTLESS_UID: '1000' } : {}),
    };
    await writeFile(join(work, 'auth.json'), JSON.stringify({ auths: {} }));
    flags = ['--policy', join(work, 'policy.json'), '--registries-conf', join(work, 'registries.conf'), '--tmpdir', join(work, 'tmp')];

    upstream = await startDistribution();
    const to = (ref: string) => `docker://${upstream.url.slice('http://'.length)}/${ref}`;
    for (const [ref, tag] of [['v1', 'team/app:v1'], ['multi', 'team/app:multi']] as const) {
      const r = await run([...flags, 'copy', '--all', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', `${upstream.user}:${upstream.password}`, `oci:${layout}:${ref}`, to(tag)], env);
      expect(r.code, r.stderr).toBe(0);
    }
    await writeFile(join(work, 'password'), `${upstream.password}\n`);
    await writeFile(join(work, 'bollard.yml'), [
      'proxy:',
      '  upstreams:',
      `    - {prefix: up, url: "${upstream.url}", username: ${upstream.user}, passwordFile: "${join(work, 'password')}"}`,
    ].join('\n'));
    server = await startServer({ env: { BOLLARD_CONFIG: join(work, 'bollard.yml'), BOLLARD_LOG_LEVEL: 'debug' } });
  });

  afterAll(async () => {
    await server?.destroy();
    await upstream?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function pull(ref: string, out: string): Promise<void> {
    const r = await run([...flags, 'copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${server.hostPort}/up/team/app:${ref}`, `oci:${join(work, out)}:${ref}`], env);
    expect(r.code, `${r.stderr}\n--- server ---\n${server.output().slice(-6000)}`).toBe(0);
  }

  async function rawDigest(ref: string): Promise<string> {
    const r = await run([...flags, 'inspect', '--raw', '--tls-verify=false', `docker://${server.hostPort}/up/team/app:${ref}`], env);
    expect(r.code, r.stderr).toBe(0);
    return `sha256:${createHash('sha256').update(r.stdout).digest('hex')}`;
  }

  test('skopeo copies a single image and a multi-platform index through the cache, digests intact', async () => {
    await pull('v1', 'first');
    await pull('multi', 'first');
    expect(await rawDigest('v1')).toBe(single.digest);
    expect(await rawDigest('multi')).toBe(multi.digest);
    expect(server.output()).not.toContain(upstream.password);
  });

  test('with the upstream stopped, the same pulls come from the cache', async () => {
    await upstream.stop();
    await pull('v1', 'second');
    await pull('multi', 'second');
    expect(await rawDigest('multi')).toBe(multi.digest);
  });
});
