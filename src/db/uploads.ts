// Upload session rows. A writer takes a short lease on the row before appending
// bytes (outside any transaction) and releases it with the new offset, so two
// requests never append to one session at once, on any replica.
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

const SessionRow = z.object({
  id: z.string(),
  repository_id: z.number(),
  byte_offset: z.number(),
  driver_state: z.instanceof(Buffer),
  updated_at: z.unknown(),
});
export type SessionRow = z.infer<typeof SessionRow>;

export const LEASE_SECONDS = 120;

/** The advisory-lock class of lease holders (migrations/0007_upload_leases.sql). */
export const HOLDER_LOCK_CLASS = 0x6c656173; // "leas"

/** True when the process holding `holder` (a column naming a holder-lock id) no longer holds its lock: it died. */
export function holderGone(holder: ReturnType<typeof sql.identifier>) {
  return sql.fragment`(${holder} IS NOT NULL AND NOT EXISTS (
  SELECT 1 FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid::bigint = ${HOLDER_LOCK_CLASS} AND l.objid::bigint = ${holder}))`;
}

/**
 * A session's lease is free when it was never taken or released, when it expired,
 * or when the process that holds it no longer holds its holder lock (it died).
 * The cheap tests come first: the lock table is read only for a lease still running.
 */
const leaseFree = sql.fragment`(s.lease_until IS NULL OR s.lease_until < now() OR ${holderGone(sql.identifier(['s', 'lease_holder']))})`;

export async function insertSession(db: CommonQueryMethods, id: string, repositoryId: number, driverState: Buffer): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO upload_sessions (id, repository_id, driver_state)
    VALUES (${sql.uuid(id as `${string}-${string}-${string}-${string}-${string}`)}, ${repositoryId}, ${sql.binary(driverState)})`);
}

export async function findSession(db: CommonQueryMethods, id: string, repositoryId: number): Promise<SessionRow | null> {
  return db.maybeOne(sql.type(SessionRow)`
    SELECT id::text, repository_id, byte_offset, driver_state, updated_at FROM upload_sessions
    WHERE id = ${id}::uuid AND repository_id = ${repositoryId}`);
}

/**
 * Takes the lease of the session in the named repository for `holder` (null: a
 * process without a holder lock, whose leases only expire), in one round trip;
 * null when unknown or busy.
 */
export async function acquireLeaseByName(
  db: CommonQueryMethods, id: string, repository: string, token: string, seconds: number, holder: number | null,
): Promise<SessionRow | null> {
  return db.maybeOne(sql.type(SessionRow)`
    UPDATE upload_sessions s
    SET lease_token = ${token}::uuid, lease_until = now() + make_interval(secs => ${seconds}), lease_holder = ${holder}
    FROM repositories r
    WHERE s.id = ${id}::uuid AND r.id = s.repository_id AND r.name = ${repository} AND ${leaseFree}
    RETURNING s.id::text, s.repository_id, s.byte_offset, s.driver_state, s.updated_at`);
}

/** Extends a lease this token holds; false when it no longer holds it. */
export async function renewLease(db: CommonQueryMethods, id: string, token: string, seconds = LEASE_SECONDS): Promise<boolean> {
  const r = await db.query(sql.unsafe`
    UPDATE upload_sessions SET lease_until = now() + make_interval(secs => ${seconds})
    WHERE id = ${id}::uuid AND lease_token = ${token}::uuid`);
  return r.rowCount > 0;
}

/**
 * Records the appended bytes and extends the lease by `keepSeconds`, for its
 * writer to keep (src/registry/push/kept-leases.ts); false if the lease was lost meanwhile.
 */
export async function commitAppend(db: CommonQueryMethods, id: string, token: string, offset: number, driverState: Buffer, keepSeconds: number): Promise<boolean> {
  const row = await db.maybeOneFirst(sql.type(z.object({ id: z.string() }))`
    UPDATE upload_sessions
    SET byte_offset = ${offset}, driver_state = ${sql.binary(driverState)},
        lease_until = now() + make_interval(secs => ${keepSeconds}), updated_at = now(), interrupted_at = NULL
    WHERE id = ${id}::uuid AND lease_token = ${token}::uuid
    RETURNING id::text`);
  return row !== null;
}

/** Gives a lease back; `interrupted`: its request was cut off (the session may be reclaimed sooner). */
export async function releaseLease(db: CommonQueryMethods, id: string, token: string, interrupted = false): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE upload_sessions
    SET lease_token = NULL, lease_until = NULL, lease_holder = NULL,
        interrupted_at = CASE WHEN ${interrupted} THEN now() ELSE interrupted_at END
    WHERE id = ${id}::uuid AND lease_token = ${token}::uuid`);
}

/** Whole seconds until the session's lease runs out (0 when it is free or gone). */
export async function leaseSecondsLeft(db: CommonQueryMethods, id: string): Promise<number> {
  const left = await db.maybeOneFirst(sql.type(z.object({ left: z.number() }))`
    SELECT GREATEST(0, ceil(extract(epoch FROM lease_until - now())))::int AS left
    FROM upload_sessions WHERE id = ${id}::uuid AND lease_until IS NOT NULL`);
  return left ?? 0;
}

export async function deleteSession(db: CommonQueryMethods, id: string): Promise<boolean> {
  const row = await db.maybeOneFirst(sql.type(z.object({ id: z.string() }))`
    DELETE FROM upload_sessions WHERE id = ${id}::uuid RETURNING id::text`);
  return row !== null;
}

const ExpiredRow = z.object({ id: z.string(), byte_offset: z.number(), driver_state: z.instanceof(Buffer) });

/**
 * Deletes sessions whose lease is free (skipping rows a writer holds) and that are
 * idle for `idleSeconds`, or were cut off (or their writer died) and not resumed
 * for `resumeSeconds`; returns them.
 */
export async function takeExpiredSessions(db: CommonQueryMethods, idleSeconds: number, resumeSeconds: number, limit: number) {
  const resumeBy = sql.fragment`now() - make_interval(secs => ${resumeSeconds})`;
  return db.any(sql.type(ExpiredRow)`
    DELETE FROM upload_sessions WHERE id IN (
      SELECT s.id FROM upload_sessions s
      WHERE ${leaseFree}
        AND (s.updated_at < now() - make_interval(secs => ${idleSeconds})
          OR s.interrupted_at < ${resumeBy}
          OR (s.lease_token IS NOT NULL AND s.updated_at < ${resumeBy}))
      ORDER BY s.updated_at LIMIT ${limit}
      FOR UPDATE SKIP LOCKED)
    RETURNING id::text, byte_offset, driver_state`);
}

/** Which of these upload ids have a session row. */
export async function existingSessions(db: CommonQueryMethods, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const found = await db.anyFirst(sql.type(z.object({ id: z.string() }))`
    SELECT id::text FROM upload_sessions WHERE id = ANY(${sql.array([...ids], 'uuid')})`);
  return new Set(found);
}
