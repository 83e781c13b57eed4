// The background retention pass of `bollard serve`: every interval, on one
// replica at a time (the pass holds an advisory lock; others skip that round).
import type { DatabasePool } from 'slonik';
import type { Logger } from '../../logger.ts';
import type { RetentionItem } from './plan.ts';
import { runEvery, type Periodic } from '../periodic.ts';
import { countRetentionRun } from '../../shared/telemetry.ts';
import { runRetention } from './run.ts';

export function startRetentionWorker(pool: DatabasePool, intervalSeconds: number, log: Logger): Pick<Periodic, 'stop'> {
  if (intervalSeconds <= 0) return { stop: async () => undefined };

  const pass = async () => {
    const started = Date.now();
    try {
      const report = await runRetention(pool, { dryRun: false });
      if (report === null) {
        countRetentionRun('skipped');
        log.debug('retention pass skipped: another process is running one');
      } else {
        const tags = report.items.filter((i) => i.kind === 'tag').length;
        countRetentionRun('ok', report.items.length - tags);
        log.info('retention pass', { deletedTags: tags, deletedManifests: report.items.length - tags, ms: Date.now() - started });
        for (const [repository, n] of perRepository(report.items)) log.info('retention deleted', { repository, ...n });
        for (const item of report.items) log.debug('retention deleted item', { ...item });
      }
    } catch (err) {
      countRetentionRun('failed');
      log.warn('retention pass failed', { error: err instanceof Error ? err.message : String(err) });
    }
  };
  return runEvery(intervalSeconds * 1000, pass);
}

function perRepository(items: readonly RetentionItem[]): Map<string, { tags: number; manifests: number }> {
  const out = new Map<string, { tags: number; manifests: number }>();
  for (const i of items) {
    const n = out.get(i.repository) ?? { tags: 0, manifests: 0 };
    if (i.kind === 'tag') n.tags++;
    else n.manifests++;
    out.set(i.repository, n);
  }
  return out;
}
