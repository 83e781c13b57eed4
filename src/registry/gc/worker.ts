// The collector and the sweeps running in the background of `bollard serve`.
// Every replica may run them: row locks and the per-blob advisory lock keep two
// collectors from deleting the same thing twice. Each pass that did something
// logs it; every ten minutes a status line gives the totals and the backlog.
import type { Logger } from '../../logger.ts';
import type { GcPolicy } from '../../shared/policies.ts';
import { queueDepths } from '../../db/gc.ts';
import { countGcRun, countUploadSweep } from '../../shared/telemetry.ts';
import { collectGarbage, type GcDeps } from './collector.ts';
import { runEvery, type Periodic } from '../periodic.ts';
import { sweepAbandoned, sweepAll } from './sweep.ts';

/** What the worker runs and how often; src/config produces it. */
export interface GcConfig {
  enabled: boolean;
  intervalSeconds: number;
  policy: GcPolicy;
  sweep: { intervalSeconds: number; grace: number; sessionIdle: number; resumeWindow: number };
}

/** How often the worker logs its totals and the queue backlog, work or not. */
const STATUS_EVERY_MS = 10 * 60 * 1000;

export function startGcWorker(deps: GcDeps, config: GcConfig, log: Logger): Periodic {
  let lastSweep = 0;
  let lastAbandonedSweep = Date.now();
  let lastStatus = 0;
  const totals = { passes: 0, manifests: 0, links: 0, blobs: 0, bytesFreed: 0, failures: 0 };

  const pass = async () => {
    const started = Date.now();
    let collected = false;
    try {
      const gc = await collectGarbage(deps, config.policy);
      const count = (t: string) => gc.deleted.filter((d) => d.target === t).length;
      countGcRun('ok', { blobs: count('blob'), bytes: gc.bytesFreed });
      collected = true;
      totals.passes += 1;
      totals.manifests += count('manifest');
      totals.links += count('link');
      totals.blobs += count('blob');
      totals.bytesFreed += gc.bytesFreed;
      if (gc.deleted.length > 0 || gc.deferred > 0) {
        log.info('gc pass', {
          manifests: count('manifest'), links: count('link'), blobs: count('blob'),
          bytesFreed: gc.bytesFreed, kept: gc.kept, deferred: gc.deferred, ms: Date.now() - started,
        });
      }
      if (Date.now() - lastSweep >= config.sweep.intervalSeconds * 1000) {
        lastSweep = lastAbandonedSweep = Date.now();
        const sweep = await sweepAll(deps, config.sweep);
        countUploadSweep();
        log.info('sweep pass', { ...sweep, ms: Date.now() - lastSweep });
      } else if (Date.now() - lastAbandonedSweep >= (config.sweep.resumeWindow * 1000) / 4) {
        // interrupted uploads give their bytes back within 1.25 resume windows
        lastAbandonedSweep = Date.now();
        const swept = await sweepAbandoned(deps, config.sweep);
        countUploadSweep();
        if (swept.expiredSessions + swept.orphanUploads > 0) log.info('abandoned uploads swept', { ...swept, ms: Date.now() - lastAbandonedSweep });
      }
      if (Date.now() - lastStatus >= STATUS_EVERY_MS) {
        lastStatus = Date.now();
        log.info('gc status', { ...totals, backlog: await queueDepths(deps.pool) });
      }
    } catch (err) {
      totals.failures += 1;
      if (!collected) countGcRun('failed');
      log.warn('gc pass failed; retrying next interval', { error: err instanceof Error ? err.message : String(err) });
    }
  };
  return runEvery(config.intervalSeconds * 1000, pass);
}
