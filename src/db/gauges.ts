// Counts Prometheus reads at scrape time (src/observability/metrics.ts). They are
// the cluster's, not a process's: every replica reports the same numbers.
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

const Counts = z.object({ upload_sessions: z.number(), webhook_backlog: z.number() });
export type BacklogCounts = z.infer<typeof Counts>;

/** Open upload sessions and undelivered webhook rows, in one round trip. */
export async function backlogCounts(db: CommonQueryMethods): Promise<BacklogCounts> {
  return db.one(sql.type(Counts)`
    SELECT (SELECT count(*) FROM upload_sessions)::int8 AS upload_sessions,
           (SELECT count(*) FROM webhook_outbox WHERE delivered_at IS NULL)::int8 AS webhook_backlog`);
}

/** The cheapest question that proves the database answers (the readiness probe). */
export async function ping(db: CommonQueryMethods): Promise<void> {
  await db.query(sql.unsafe`SELECT 1`);
}
