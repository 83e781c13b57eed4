// Keeps the embedded PostgreSQL running: when its server process dies (killed,
// crashed, out of memory) it is started again, with a growing delay between
// failed attempts. Meanwhile requests get a 503 from the pool's connection
// errors; the pool opens new connections by itself once the server is back.
// A clean stop ends the supervision first, so nothing restarts during shutdown.
import type { Logger } from '../logger.ts';
import { describeExit, type Postmaster } from './embedded-postmaster.ts';

export interface SupervisorOptions {
  /** the first restart waits this long (a killed server's backends are still exiting) */
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** a server that stayed up this long counts as healthy: the next restart is quick again */
  stableMs?: number;
}

export interface Supervisor {
  /** Ends the supervision and stops the server. */
  stop(): Promise<void>;
  /** Ends the supervision and stops the server at once (immediate shutdown), even while stop() runs. */
  abort(): Promise<void>;
}

export function supervise(first: Postmaster, start: () => Promise<Postmaster>, log: Logger, opts: SupervisorOptions = {}): Supervisor {
  const firstDelay = opts.firstDelayMs ?? 250;
  const maxDelay = opts.maxDelayMs ?? 15_000;
  const stable = opts.stableMs ?? 30_000;
  let current: Postmaster | null = null;
  let upSince = 0;
  let downSince = 0;
  let failures = 0;
  let stopping = false;
  let timer: NodeJS.Timeout | null = null;
  let starting: Promise<void> | null = null;

  const watch = (pm: Postmaster) => {
    current = pm;
    upSince = Date.now();
    void pm.exited.then((exit) => {
      if (stopping || current !== pm) return;
      current = null;
      downSince = Date.now();
      if (downSince - upSince >= stable) failures = 0;
      log.error('embedded postgres died', { pid: pm.pid, how: describeExit(exit), upMs: downSince - upSince, output: pm.recentOutput() });
      schedule();
    });
  };

  const schedule = () => {
    const delayMs = Math.min(firstDelay * 2 ** failures, maxDelay);
    failures += 1;
    log.info('embedded postgres restart scheduled', { attempt: failures, delayMs });
    timer = setTimeout(() => {
      timer = null;
      starting = restart().finally(() => (starting = null));
    }, delayMs);
  };

  const restart = async () => {
    let pm: Postmaster;
    try {
      pm = await start();
    } catch (err) {
      if (stopping) return;
      log.warn('embedded postgres restart failed', { attempt: failures, error: (err as Error).message });
      schedule();
      return;
    }
    if (stopping) return pm.stop();
    watch(pm);
    log.info('embedded postgres restarted', { pid: pm.pid, attempt: failures, downMs: Date.now() - downSince });
  };

  watch(first);
  return {
    stop: async () => {
      stopping = true;
      if (timer) clearTimeout(timer);
      await starting;
      await current?.stop();
      current = null;
    },
    abort: async () => {
      stopping = true;
      if (timer) clearTimeout(timer);
      // a server still starting is not waited for: it is this process's child and
      // in its own process group, and the next start clears it as a leftover
      await current?.stopNow();
    },
  };
}
