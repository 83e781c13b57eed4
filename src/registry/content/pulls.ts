// Records manifest pulls for eviction by last pull (docs/proxy.md, README "Retention").
// A pull costs a Map write and nothing else on the request path: the batch goes to
// PostgreSQL in one statement every few seconds, and once more when the process stops.
import type { DatabasePool } from 'slonik';
import { recordPulls, type PullRecord } from '../../db/pulls.ts';
import type { Logger } from '../../logger.ts';
import { runEvery, type Periodic } from '../periodic.ts';

/** Distinct manifests held between flushes; beyond it, pulls of further manifests wait for the next flush to be counted. */
const MAX_PENDING = 100_000;

export class PullRecorder {
  private pending = new Map<string, PullRecord>();
  private periodic: Periodic | null = null;

  private readonly pool: DatabasePool;
  private readonly log: Pick<Logger, 'warn'>;

  constructor(pool: DatabasePool, log: Pick<Logger, 'warn'>) {
    this.pool = pool;
    this.log = log;
  }

  /** A GET of a manifest (not a HEAD): the name the client pulled it by. */
  record(repository: string, digest: string): void {
    const key = `${repository}@${digest}`;
    const had = this.pending.get(key);
    if (had) had.at = Date.now();
    else if (this.pending.size < MAX_PENDING) this.pending.set(key, { repository, digest, at: Date.now() });
  }

  /** Writes the batch; a failed write keeps it for the next flush (a pull is never older than what it replaces). */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await recordPulls(this.pool, [...batch.values()]);
    } catch (err) {
      for (const [key, p] of batch) if (!this.pending.has(key) && this.pending.size < MAX_PENDING) this.pending.set(key, p);
      this.log.warn('recording manifest pulls failed; retried at the next flush', { error: err instanceof Error ? err.message : String(err), pending: this.pending.size });
    }
  }

  start(intervalMs = 5000): void {
    this.periodic ??= runEvery(intervalMs, () => this.flush());
  }

  /** After the last request: the final flush, before the pool closes. */
  async stop(): Promise<void> {
    await this.periodic?.stop();
    this.periodic = null;
    await this.flush();
  }
}
