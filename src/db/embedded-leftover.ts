// A PostgreSQL left running on Bollard's data directory by a Bollard process that
// died without stopping it (kill -9, OOM killer, power to the Node process only).
// PostgreSQL refuses to start while its postmaster.pid names a live process, so
// the next start would fail until someone killed the old server by hand.
//
// Bollard stops such a leftover cleanly (fast shutdown) and starts its own server
// again, rather than reusing it: the leftover is no child of this process, so its
// death could only be noticed by polling, its output goes to a closed pipe, and it
// runs with whatever port and flags the dead process gave it. A fast shutdown
// followed by a start costs a second or two at boot and leaves one simple model:
// the embedded database is always this process's own child.
//
// It never signals a process unless it is a postgres whose data directory is this
// one, and never one that a live Bollard process still owns (the owner file names
// the process that started it; its children keep that process as their parent).
import { execFile } from 'node:child_process';
import { readFile, readlink, realpath, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../logger.ts';

interface ProcessInfo {
  ppid: number;
  zombie: boolean;
  argv0: string;
  /** null where it cannot be read (not Linux) */
  cwd: string | null;
  command: string;
}

/** Records that this process owns the server now running on the data directory. */
export async function recordOwner(ownerFile: string): Promise<void> {
  await writeFile(ownerFile, `${process.pid}\n`);
}

/** Stops a leftover server on `dir` (absolute), so that a new one can start. */
export async function clearLeftoverPostmaster(dir: string, ownerFile: string, log: Logger): Promise<void> {
  const pidFile = join(dir, 'postmaster.pid');
  const pid = Number.parseInt((await readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0] ?? '', 10);
  if (!(pid > 0)) return; // none, or unreadable: PostgreSQL judges it itself
  const info = await processInfo(pid);
  if (!info || info.zombie) return; // a stale file: PostgreSQL replaces it
  if (!(await isPostmasterOf(info, dir))) {
    // the pid was reused by an unrelated process (after a reboot, say): PostgreSQL
    // would take it for a running server and refuse to start
    log.warn('removing a stale postmaster.pid whose pid now belongs to another process', { dir, pid, command: info.command });
    await unlink(pidFile).catch(() => undefined);
    return;
  }
  const owner = Number.parseInt(await readFile(ownerFile, 'utf8').catch(() => ''), 10);
  const owned = owner > 0 ? info.ppid === owner : info.ppid !== 1;
  if (owned && (await processInfo(info.ppid))) {
    throw new Error(
      `the embedded PostgreSQL in ${dir} (pid ${pid}) belongs to a running process (pid ${info.ppid}): ` +
        'stop that Bollard first, or give this one another BOLLARD_DATA_DIR',
    );
  }
  log.warn('stopping a PostgreSQL left running by an earlier Bollard process', { dir, pid });
  for (const [signal, waitMs] of [['SIGINT', 30_000], ['SIGQUIT', 10_000]] as const) {
    if (!signalProcess(pid, signal) || (await exitsWithin(pid, waitMs))) {
      log.info('leftover PostgreSQL stopped', { pid, signal });
      return;
    }
  }
  throw new Error(`the PostgreSQL left running in ${dir} (pid ${pid}) did not stop; stop it and start Bollard again`);
}

/** The pid of a live postmaster working on `dir` (absolute), or null. */
export async function livePostmasterOf(dir: string): Promise<number | null> {
  const pid = Number.parseInt((await readFile(join(dir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0] ?? '', 10);
  if (!(pid > 0)) return null;
  const info = await processInfo(pid);
  return info && !info.zombie && (await isPostmasterOf(info, dir)) ? pid : null;
}

async function isPostmasterOf(info: ProcessInfo, dir: string): Promise<boolean> {
  if (basename(info.argv0) !== 'postgres') return false;
  // the postmaster works in its data directory; without /proc, its -D argument tells
  if (info.cwd !== null) return info.cwd === (await realpath(dir).catch(() => dir));
  return info.command.includes(dir);
}

/** false when the process is already gone */
function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw new Error(`cannot stop the PostgreSQL left running (pid ${pid}): ${(err as Error).message}`);
  }
}

async function exitsWithin(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    const info = await processInfo(pid);
    if (!info || info.zombie) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What the system says about a live process, or null when there is none. */
async function processInfo(pid: number): Promise<ProcessInfo | null> {
  if (process.platform === 'linux') return linuxProcessInfo(pid);
  try {
    const { stdout } = await promisify(execFile)('ps', ['-o', 'ppid=,stat=,command=', '-p', String(pid)]);
    const m = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(stdout.trim());
    if (!m) return null;
    const command = m[3] as string;
    return { ppid: Number(m[1]), zombie: (m[2] as string).startsWith('Z'), argv0: command.split(' ')[0] ?? '', cwd: null, command };
  } catch {
    return null; // ps exits non-zero when there is no such process
  }
}

async function linuxProcessInfo(pid: number): Promise<ProcessInfo | null> {
  try {
    const [stat, cmdline, cwd] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/cmdline`, 'utf8'),
      readlink(`/proc/${pid}/cwd`).catch(() => null),
    ]);
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const argv = cmdline.split('\0').filter(Boolean);
    return { ppid: Number(fields[1]), zombie: fields[0] === 'Z', argv0: argv[0] ?? '', cwd, command: argv.join(' ') };
  } catch {
    return null;
  }
}
