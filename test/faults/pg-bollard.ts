// `bollard serve` as a child process of its own Node 24 (bin/bollard.js re-execs
// in place, so the child's pid is the server's pid and kill -9 hits the server
// itself), on its own data directory; without DATABASE_URL it runs the embedded
// PostgreSQL on the port given.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/ports.ts';

const BIN = fileURLToPath(new URL('../../bin/bollard.js', import.meta.url));
const NODE = join(dirname(createRequire(import.meta.url).resolve('node/package.json')), 'bin', 'node');

export interface Bollard {
  url: string;
  pid: number;
  child: ChildProcess;
  output(): string;
  /** the JSON log lines whose msg is this */
  logged(msg: string): Array<Record<string, unknown>>;
  running(): boolean;
  kill9(): Promise<void>;
  /** SIGTERM, and the exit code */
  stop(): Promise<number | null>;
}

export interface BollardOptions {
  dataDir: string;
  /** external database; without it, the embedded PostgreSQL on embeddedPort */
  databaseUrl?: string;
  embeddedPort?: number;
}

/** Starts the server; rejects with its output when it exits before listening. */
export async function startBollard(opts: BollardOptions): Promise<Bollard> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, BOLLARD_LISTEN: `127.0.0.1:${port}`, BOLLARD_DATA_DIR: opts.dataDir, BOLLARD_LOG_LEVEL: 'info' };
  delete env.DATABASE_URL;
  if (opts.databaseUrl) env.DATABASE_URL = opts.databaseUrl;
  if (opts.embeddedPort) env.BOLLARD_EMBEDDED_PG_PORT = String(opts.embeddedPort);
  const child = spawn(NODE, [BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bollard did not start in time:\n${log}`)), 60_000);
    const check = () => {
      if (!log.includes('"bollard listening"')) return;
      clearTimeout(timer);
      resolve();
    };
    child.stderr?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`bollard exited with ${code} before listening:\n${log}`));
    });
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    child,
    output: () => log,
    logged: (msg) => parseLog(log).filter((l) => l.msg === msg),
    running,
    kill9: async () => {
      if (!running()) return;
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (!running()) return child.exitCode;
      const force = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.kill('SIGTERM');
      const code = await exited;
      clearTimeout(force);
      return code;
    },
  };
}

/** Runs `bollard serve` expecting it to fail; its exit code and output. */
export async function failingBollard(opts: BollardOptions): Promise<{ code: number | null; output: string }> {
  try {
    const b = await startBollard(opts);
    await b.stop();
    return { code: 0, output: b.output() };
  } catch (err) {
    const text = (err as Error).message;
    return { code: Number(/exited with (\d+)/.exec(text)?.[1] ?? -1), output: text };
  }
}

function parseLog(log: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line of something else
    }
  }
  return out;
}

/** The pid in a PostgreSQL data directory's postmaster.pid, or null. */
export async function postmasterPid(pgDir: string): Promise<number | null> {
  const text = await readFile(join(pgDir, 'postmaster.pid'), 'utf8').catch(() => '');
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  return pid > 0 ? pid : null;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie still answers signal 0
  return !/\) Z /.test(readStat(pid));
}

function readStat(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return '';
  }
}

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000, everyMs = 25): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return Date.now() - start;
}
