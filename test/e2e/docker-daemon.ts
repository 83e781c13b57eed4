// A dockerd of the test's own for test/e2e/docker.test.ts: its socket, data root and
// exec root live in a temp dir, with no iptables, no bridge and the vfs driver, so
// it touches nothing of the host's docker; it is stopped by its own pid. Also the
// build contexts (FROM scratch and files the test writes) and push output parsing.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import type { Run } from './clients.ts';

export const DOCKERD = '/usr/sbin/dockerd';

/** A dockerd of the test's own, reachable only through its socket. */
export interface Daemon {
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
  log(): string;
}

/** `args`: more dockerd arguments, e.g. `--registry-mirror` (test/proxy/docker-mirror.test.ts). */
export async function startDaemon(docker: string, dir: string, args: string[] = []): Promise<Daemon> {
  for (const d of ['data', 'exec', 'config', 'home', 'tmp']) await mkdir(join(dir, d), { recursive: true, mode: 0o700 });
  const socket = join(dir, 'docker.sock');
  const child: ChildProcess = spawn(
    DOCKERD,
    [
      '--host', `unix://${socket}`,
      '--data-root', join(dir, 'data'),
      '--exec-root', join(dir, 'exec'),
      '--pidfile', join(dir, 'docker.pid'),
      '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none',
      '--storage-driver', 'vfs',
      ...args,
    ],
    { env: { PATH: process.env.PATH, HOME: join(dir, 'home'), TMPDIR: join(dir, 'tmp') }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const env = { PATH: process.env.PATH, HOME: join(dir, 'home'), DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'config'), DOCKER_BUILDKIT: '0' };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.kill('SIGTERM');
    await exited;
    clearTimeout(kill);
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await promisify(execFile)(docker, ['version', '--format', '{{.Server.Version}}'], { env }).then(
      () => true,
      () => false,
    );
    if (r) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`dockerd did not come up:\n${log}`);
    }
    await new Promise<void>((r) => setTimeout(r, 250));
  }
  return { env, stop, log: () => log };
}

export async function randomFile(path: string, size: number): Promise<void> {
  const out = createWriteStream(path);
  for (let left = size; left > 0; left -= 1 << 20) {
    if (!out.write(randomBytes(Math.min(left, 1 << 20)))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

/** A build context: a Dockerfile and the files it copies. */
export async function context(dir: string, dockerfile: string, files: Record<string, Buffer | string>): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
  for (const [name, data] of Object.entries(files)) await writeFile(join(dir, name), data);
  return dir;
}

/** The digest `docker push` reports on its last line ("<tag>: digest: sha256:… size: N"). */
export function pushedDigest(r: Run): string {
  const m = /digest: (sha256:[a-f0-9]{64}) size: \d+/.exec(r.stdout);
  expect(m, r.stdout).not.toBeNull();
  return m![1]!;
}
