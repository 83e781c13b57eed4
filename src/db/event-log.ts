// Reading the event journal in a stable order.
//
// Event ids come from a sequence when the row is inserted, but transactions
// commit in any order: a reader that pages by id alone could return id 11, then
// see id 10 commit and skip it forever. Holding back events of transactions
// still in progress is not enough with id order either (a transaction that got
// its xid earlier can take a higher id and commit first).
//
// So the journal is read in (xid, id) order, and only events whose transaction
// id is below pg_snapshot_xmin(pg_current_snapshot()) — older than every
// transaction still running — are returned. Every transaction below that horizon
// has finished, and every transaction that commits later has an xid at or above
// it, so an event appearing later always sorts after everything already read:
// a (xid, id) cursor never skips anything. Within one transaction, and between
// transactions that do not overlap, this is id order. The cost: an event shows
// up only once the transactions older than it have finished (a long-open
// transaction anywhere in the cluster delays the journal, it never loses events).
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

const EventRow = z.object({
  id: z.number(),
  xid: z.string(),
  kind: z.string(),
  repository: z.string().nullable(),
  digest: z.string().nullable(),
  tag: z.string().nullable(),
  actor: z.string().nullable(),
  time_ms: z.number(),
  payload: z.instanceof(Buffer),
});
export type EventRow = z.infer<typeof EventRow>;

/** A position in the journal: after the event (xid, id). */
export interface JournalPosition {
  xid: string;
  id: number;
}

export interface EventQuery {
  after: JournalPosition | null;
  repository: string | null;
  limit: number;
}

export async function readEvents(db: CommonQueryMethods, q: EventQuery): Promise<readonly EventRow[]> {
  const conditions = [sql.fragment`xid < pg_snapshot_xmin(pg_current_snapshot())`];
  if (q.after !== null) conditions.push(sql.fragment`(xid, id) > (${q.after.xid}::xid8, ${q.after.id}::bigint)`);
  if (q.repository !== null) conditions.push(sql.fragment`repository = ${q.repository}`);
  return db.any(sql.type(EventRow)`
    SELECT id, xid::text AS xid, kind, repository, digest, tag, actor,
           (extract(epoch FROM created_at) * 1000)::float8 AS time_ms, payload
    FROM events
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY events.xid, events.id -- the columns: a bare "xid" would name the text alias
    LIMIT ${q.limit}`);
}

/** The events with the given ids, in id order (webhook bodies). */
export async function eventsById(db: CommonQueryMethods, ids: readonly number[]): Promise<readonly EventRow[]> {
  return db.any(sql.type(EventRow)`
    SELECT id, xid::text AS xid, kind, repository, digest, tag, actor,
           (extract(epoch FROM created_at) * 1000)::float8 AS time_ms, payload
    FROM events WHERE id = ANY(${sql.array(ids, 'int8')}) ORDER BY id`);
}
