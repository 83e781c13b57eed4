// Rows of upstream fetches in flight (migrations/0009_proxy_fetches.sql): the
// single-flight of the pull-through cache across replicas. Each statement is one
// round trip outside any transaction: the fetch itself runs between them.
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { holderGone } from './uploads.ts';

export type FetchKind = 'blob' | 'manifest';

/** Carries '<kind> <key>' of each fetch that ended, committed or not (src/db/notify.ts listens). */
export const FETCH_CHANNEL = 'bollard_proxy_fetches';

/** Seconds without a heartbeat after which a fetch counts as abandoned (its process hangs, or has no holder lock). */
export const FETCH_STALE_SECONDS = 5;

const FetchRow = z.object({
  repository: z.string(),
  token: z.string(),
  upload_id: z.string().nullable(),
  size: z.number().nullable(),
  stored: z.number(),
  failure: z.object({ code: z.string(), detail: z.unknown(), headers: z.record(z.string(), z.string()) }).nullable(),
  /** When this fetch (or the takeover that made it this one) began, by the database's clock, as PostgreSQL writes a timestamptz. */
  started_at: z.string(),
  vacant: z.boolean(),
});
export type FetchRow = z.infer<typeof FetchRow>;
export type FetchFailure = NonNullable<FetchRow['failure']>;

export interface Claim {
  kind: FetchKind;
  key: string;
  repository: string;
  token: string;
  holder: number | null;
  uploadId: string | null;
}

function vacant(table: string) {
  return sql.fragment`(${sql.identifier([table, 'heartbeat_at'])} < now() - make_interval(secs => ${FETCH_STALE_SECONDS})
    OR ${holderGone(sql.identifier([table, 'holder']))})`;
}

/** Inserts the fetch's row, or takes over an abandoned one; true when this claim is now the fetch. */
export async function claimFetch(db: CommonQueryMethods, c: Claim): Promise<boolean> {
  const won = await db.maybeOneFirst(sql.type(z.object({ token: z.string() }))`
    INSERT INTO proxy_fetches (kind, key, repository, token, holder, upload_id)
    VALUES (${c.kind}, ${c.key}, ${c.repository}, ${c.token}::uuid, ${c.holder}, ${c.uploadId}::uuid)
    ON CONFLICT (kind, key) DO UPDATE
      SET repository = EXCLUDED.repository, token = EXCLUDED.token, holder = EXCLUDED.holder, upload_id = EXCLUDED.upload_id,
          size = NULL, stored = 0, failure = NULL, started_at = now(), heartbeat_at = now()
      WHERE proxy_fetches.failure IS NOT NULL OR ${vacant('proxy_fetches')}
    RETURNING token::text`);
  return won === c.token;
}

/**
 * The fetch in flight for this key; null when there is none. With `checkVacant`,
 * whether it is abandoned (that reads the lock table: waiters ask it now and then,
 * not on every look), else `vacant` is false.
 */
export async function findFetch(db: CommonQueryMethods, kind: FetchKind, key: string, checkVacant = true): Promise<FetchRow | null> {
  return db.maybeOne(sql.type(FetchRow)`
    SELECT f.repository, f.token::text, f.upload_id::text, f.size, f.stored, f.failure, f.started_at::text, ${checkVacant ? vacant('f') : sql.fragment`false`} AS vacant
    FROM proxy_fetches f WHERE f.kind = ${kind} AND f.key = ${key}`);
}

/** The fetch is alive, has stored this much (and knows its size); false when it was taken over. */
export async function beatFetch(db: CommonQueryMethods, kind: FetchKind, key: string, token: string, progress: { stored: number; size: number | null }): Promise<boolean> {
  const r = await db.query(sql.unsafe`
    UPDATE proxy_fetches SET heartbeat_at = now(), stored = ${progress.stored}, size = ${progress.size}
    WHERE kind = ${kind} AND key = ${key} AND token = ${token}::uuid`);
  return r.rowCount > 0;
}

/** Keeps the fetch's error for its waiters, and tells every replica's waiters, in one statement. */
export async function failFetch(db: CommonQueryMethods, kind: FetchKind, key: string, token: string, failure: FetchFailure): Promise<void> {
  await db.query(sql.unsafe`
    WITH failed AS (
      UPDATE proxy_fetches SET failure = ${sql.jsonb(failure as never)}
      WHERE kind = ${kind} AND key = ${key} AND token = ${token}::uuid RETURNING kind, key)
    SELECT pg_notify(${FETCH_CHANNEL}, kind || ' ' || key) FROM failed`);
}

/** Deletes the fetch's row (committed, or failed a moment ago) and tells every replica's waiters, in one statement. */
export async function endFetch(db: CommonQueryMethods, kind: FetchKind, key: string, token: string): Promise<void> {
  await db.query(sql.unsafe`
    WITH gone AS (DELETE FROM proxy_fetches WHERE kind = ${kind} AND key = ${key} AND token = ${token}::uuid RETURNING kind, key)
    SELECT pg_notify(${FETCH_CHANNEL}, kind || ' ' || key) FROM gone`);
}
