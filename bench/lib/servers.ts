// Starts the two registries under comparison on loopback, each with fresh
// storage: Bollard (`bollard serve`, embedded PostgreSQL, filesystem storage)
// and Debian's docker-registry (distribution 2.8.2, filesystem storage).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/support/ports.ts';

export interface Registry {
  name: string;
  url: string;
  pid: number;
  dataDir: string;
  /** Bollard's database (the embedded one it started, or the one it was given). */
  databaseUrl?: string;
  /** The last 20 000 characters the server wrote, and whether it has exited (absent: its output is not kept). */
  output?(): { text: string; exitCode: number | null; signal: string | null };
  stop(): Promise<void>;
}

const BOLLARD = fileURLToPath(new URL('../../bin/bollard.js', import.meta.url));
const DISTRIBUTION = '/usr/bin/docker-registry';

async function waitReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited early:\n${log()}`);
    try {
      if ((await fetch(`${url}/v2/`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not ready in time:\n${log()}`);
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.kill('SIGTERM');
      });
    }
    await rm(dir, { recursive: true, force: true });
  };
}

function track(child: ChildProcess): () => string {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  return () => out;
}

function outputOf(child: ChildProcess, log: () => string): Registry['output'] {
  return () => ({ text: log(), exitCode: child.exitCode, signal: child.signalCode });
}

/** Starts `bollard serve`; with `replicaOf`, a second process on the first one's database and data. */
export async function startBollard(baseDir: string, env: Record<string, string> = {}, replicaOf?: Registry): Promise<Registry> {
  const dir = replicaOf?.dataDir ?? (await mkdtemp(join(baseDir, 'bollard-')));
  await chmod(dir, 0o755);
  const pgPort = await freePort();
  const port = await freePort();
  if (replicaOf?.databaseUrl) env = { ...env, DATABASE_URL: replicaOf.databaseUrl };
  const child = spawn(process.execPath, [BOLLARD, 'serve'], {
    env: {
      ...process.env,
      BOLLARD_LISTEN: `127.0.0.1:${port}`,
      BOLLARD_DATA_DIR: dir,
      BOLLARD_EMBEDDED_PG_PORT: String(pgPort),
      BOLLARD_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = `http://127.0.0.1:${port}`;
  const log = track(child);
  await waitReady(url, child, log);
  const databaseUrl = env.DATABASE_URL ?? `postgres://bollard:${encodeURIComponent((await readFile(join(dir, 'postgres.secret'), 'utf8')).trim())}@127.0.0.1:${pgPort}/bollard`;
  // a replica leaves the shared data directory to the first process
  const stop = replicaOf ? stopper(child, join(dir, '.replica-none')) : stopper(child, dir);
  return { name: replicaOf ? 'bollard-replica' : 'bollard', url, pid: child.pid as number, dataDir: dir, databaseUrl, output: outputOf(child, log), stop };
}

/**
 * distribution's configuration: Debian's defaults on loopback, without auth or
 * access log, deletes on, and the given storage driver section.
 */
export function distributionConfig(storage: string[], port: number): string {
  return [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  cache:',
    '    blobdescriptor: inmemory',
    ...storage,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

/** Installs with apt what the benchmarks run and this machine lacks: distribution, and python3 for BENCH_CLIENT=sendfile. */
export function ensureBenchTools(): void {
  const present: Record<string, boolean> = { 'docker-registry': existsSync(DISTRIBUTION), python3: process.env.BENCH_CLIENT !== 'sendfile' || onPath('python3') };
  const missing = Object.keys(present).filter((pkg) => !present[pkg]);
  if (missing.length === 0) return;
  process.stderr.write(`installing ${missing.join(', ')} with apt-get\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env });
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, command)));
}

export async function startDistribution(baseDir: string): Promise<Registry> {
  ensureBenchTools();
  const dir = await mkdtemp(join(baseDir, 'distribution-'));
  const port = await freePort();
  const config = join(dir, 'config.yml');
  await writeFile(config, distributionConfig(['  filesystem:', `    rootdirectory: ${join(dir, 'data')}`], port));
  const child = spawn(DISTRIBUTION, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = `http://127.0.0.1:${port}`;
  const log = track(child);
  await waitReady(url, child, log);
  return { name: 'distribution', url, pid: child.pid as number, dataDir: dir, output: outputOf(child, log), stop: stopper(child, dir) };
}

export async function benchBaseDir(): Promise<string> {
  const dir = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'bollard-bench-'));
  await chmod(dir, 0o755); // the embedded PostgreSQL's user must be able to enter it
  return dir;
}
