// The collector and the sweeps running in the background of `bollard serve`.
// Every replica may run them: row locks and the per-blob advisory lock keep two
// collectors from deleting the same thing twice. Each pass logs what it did.
import type { GcConfig } from '../config/gc.ts';
import type { Logger } from '../logger.ts';
import { collectGarbage, type GcDeps } from './gc.ts';
import { sweepAll } from './sweep.ts';

export interface GcWorker {
  /** Runs one pass now (tests, and the first pass at start-up). */
  runOnce(): Promise<void>;
  stop(): Promise<void>;
}

export function startGcWorker(deps: GcDeps, config: GcConfig, log: Logger): GcWorker {
  let running: Promise<void> | null = null;
  let lastSweep = 0;
  let stopped = false;

  const pass = async () => {
    const started = Date.now();
    try {
      const gc = await collectGarbage(deps, config.policy);
      if (gc.deleted.length > 0 || gc.deferred > 0) {
        const count = (t: string) => gc.deleted.filter((d) => d.target === t).length;
        log.info('gc pass', {
          manifests: count('manifest'), links: count('link'), blobs: count('blob'),
          bytesFreed: gc.bytesFreed, kept: gc.kept, deferred: gc.deferred, ms: Date.now() - started,
        });
      }
      if (Date.now() - lastSweep >= config.sweep.intervalSeconds * 1000) {
        lastSweep = Date.now();
        const sweep = await sweepAll(deps, config.sweep);
        log.info('sweep pass', { ...sweep, ms: Date.now() - lastSweep });
      }
    } catch (err) {
      log.warn('gc pass failed; retrying next interval', { error: err instanceof Error ? err.message : String(err) });
    }
  };
  const runOnce = () => {
    running ??= pass().finally(() => {
      running = null;
    });
    return running;
  };
  const timer = setInterval(() => {
    if (!stopped) void runOnce();
  }, config.intervalSeconds * 1000);
  timer.unref();
  return {
    runOnce,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
