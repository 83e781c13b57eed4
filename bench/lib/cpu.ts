// CPU time spent by processes during a measurement, read from /proc (Linux): a
// server's own process and every process it started (Bollard's embedded
// PostgreSQL), and the bench's own process as the client. On a machine whose cores
// the client and the servers share, a target on wall-clock speed can be weighed
// against what each side costs per byte.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime and stime: 100 on Linux. */
const TICKS = 100;

interface Stat {
  ppid: number;
  ticks: number;
}

function stat(pid: number): Stat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name may hold spaces and parentheses: the fields follow its last ')'
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return null; // exited meanwhile
  }
}

/** CPU seconds used so far by `root` and its live descendants (threads included). */
export function treeCpuSeconds(root: number): number {
  const all = new Map<number, Stat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (s) all.set(Number(entry), s);
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
      if (p === root) return true;
      p = all.get(p)?.ppid ?? 0;
    }
    return false;
  };
  let ticks = 0;
  for (const [pid, s] of all) if (inTree(pid)) ticks += s.ticks;
  return ticks / TICKS;
}

/** Starts counting: `stop()` gives the CPU seconds each named process tree, and this process ('client'), used since. */
export function cpuMeter(servers: Record<string, number>): { stop(): Record<string, number> } {
  const start = Object.fromEntries(Object.entries(servers).map(([name, pid]) => [name, treeCpuSeconds(pid)]));
  const client = process.cpuUsage();
  return {
    stop() {
      const used: Record<string, number> = {};
      for (const [name, pid] of Object.entries(servers)) used[name] = treeCpuSeconds(pid) - (start[name] as number);
      const c = process.cpuUsage(client);
      used.client = (c.user + c.system) / 1e6;
      return used;
    },
  };
}
