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
  /** manifest id → when it was last pulled (ms) */
  private pending = new Map<number, number>();
  private periodic: Periodic | null = null;

  private readonly pool: DatabasePool;
  private readonly log: Pick<Logger, 'warn'>;

  constructor(pool: DatabasePool, log: Pick<Logger, 'warn'>) {
    this.pool = pool;
    this.log = log;
  }

  /** A GET of a manifest (not a HEAD), by the id of its row. */
  record(id: number): void {
    if (this.pending.size < MAX_PENDING || this.pending.has(id)) this.pending.set(id, Date.now());
  }

  /** Writes the batch; a failed write keeps it for the next flush (a pull is never older than what it replaces). */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await recordPulls(this.pool, Array.from(batch, ([id, at]): PullRecord => ({ id, at })));
    } catch (err) {
      for (const [id, at] of batch) if (!this.pending.has(id) && this.pending.size < MAX_PENDING) this.pending.set(id, at);
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
