// `bollard serve` as a child process for the lifecycle and TLS tests: started
// detached (its own process group, as a shell starts a foreground job), so a
// test can send a signal to the whole group the way a terminal's Ctrl-C does;
// with the embedded PostgreSQL on a temp data dir unless DATABASE_URL is given.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/ports.ts';

export const BIN = fileURLToPath(new URL('../../bin/bollard.js', import.meta.url));
export const NODE = join(dirname(createRequire(import.meta.url).resolve('node/package.json')), 'bin', 'node');

export interface ServeChild {
  child: ChildProcess;
  pid: number;
  port: number;
  /** the env serve runs with, for operator commands beside it */
  env: NodeJS.ProcessEnv;
  exited: Promise<number | null>;
  output(): string;
  /** the JSON log lines whose msg is this */
  logged(msg: string): Array<Record<string, unknown>>;
  /** resolves when a log line with this msg appears */
  waitFor(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  running(): boolean;
}

export interface ServeOptions {
  dataDir: string;
  /** without: the embedded PostgreSQL on embeddedPort */
  databaseUrl?: string;
  embeddedPort?: number;
  env?: Record<string, string>;
  /** resolve once listening (default) or at once */
  waitListening?: boolean;
}

export async function startServe(opts: ServeOptions): Promise<ServeChild> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env, BOLLARD_LISTEN: `127.0.0.1:${port}`, BOLLARD_DATA_DIR: opts.dataDir, BOLLARD_LOG_LEVEL: 'info', ...opts.env,
  };
  delete env.DATABASE_URL;
  if (opts.databaseUrl) env.DATABASE_URL = opts.databaseUrl;
  if (opts.embeddedPort) env.BOLLARD_EMBEDDED_PG_PORT = String(opts.embeddedPort);
  const child = spawn(NODE, [BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    log += d.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logged = (msg: string) =>
    log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);
  const waitFor = (msg: string, timeoutMs = 60_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const found = logged(msg)[0];
        if (!found) return;
        listeners.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no "${msg}" within ${timeoutMs} ms:\n${log}`));
      }, timeoutMs);
      listeners.add(check);
      void exited.then((code) => {
        if (!listeners.has(check)) return;
        listeners.delete(check);
        clearTimeout(timer);
        reject(new Error(`serve exited with ${code} before "${msg}":\n${log}`));
      });
      check();
    });
  const s: ServeChild = {
    child, pid: child.pid as number, port, env, exited, output: () => log, logged, waitFor,
    running: () => child.exitCode === null && child.signalCode === null,
  };
  if (opts.waitListening !== false) await waitFor('bollard listening');
  return s;
}

/** The pid in the data dir's postmaster.pid, or null. */
export function postmasterPid(dataDir: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
    return pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits (bounded) for a process to be gone: a postmaster's exit is reaped by its parent's exit. */
export async function gone(pid: number, timeoutMs = 15_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** Kills what a failed test may leave: the serve process group, then its postmaster. */
export function cleanup(s: ServeChild | undefined, dataDir: string | undefined): void {
  const pm = dataDir ? postmasterPid(dataDir) : null;
  if (s?.running()) {
    try {
      process.kill(-s.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  if (pm && alive(pm)) {
    try {
      process.kill(pm, 'SIGQUIT');
    } catch {
      /* already gone */
    }
  }
}
