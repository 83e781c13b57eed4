// The event journal: one row per committed change, written in the same
// transaction as the change. The payload is the whole event as canonical CBOR;
// the indexed columns repeat what queries filter on.
//
// Reading it in a stable order.
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
import { Encoder } from 'cbor-x';
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

export type EventKind =
  | 'blob.push'
  | 'blob.mount'
  | 'blob.delete'
  | 'blob.quarantine'
  | 'manifest.push'
  | 'manifest.delete'
  | 'tag.set'
  | 'tag.delete'
  | 'gc.delete';

export interface RegistryEvent {
  kind: EventKind;
  /** Absent for registry-wide events (a collected blob belongs to no repository). */
  repository?: string;
  digest?: string;
  tag?: string;
  actor?: string;
  mediaType?: string;
  size?: number;
  from?: string;
  /** gc.delete: what was collected ('manifest', 'link' or 'blob'); blob.quarantine: 'mismatch' or 'missing'. */
  target?: string;
  reason?: string;
}

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });

/** Canonical CBOR: keys sorted, undefined fields dropped, so equal events encode equally. */
export function encodeEvent(event: RegistryEvent): Buffer {
  const entries = Object.entries(event).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => (a.length - b.length) || (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(encoder.encode(Object.fromEntries(entries)));
}

export async function appendEvent(db: CommonQueryMethods, event: RegistryEvent): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO events (kind, repository, digest, tag, actor, payload)
    VALUES (${event.kind}, ${event.repository ?? null}, ${event.digest ?? null}, ${event.tag ?? null},
            ${event.actor ?? null}, ${sql.binary(encodeEvent(event))})`);
}

/** Appends the events in one statement, their ids in the order given. */
export async function appendEvents(db: CommonQueryMethods, events: readonly RegistryEvent[]): Promise<void> {
  if (events.length === 0) return;
  const column = (f: (e: RegistryEvent) => string | undefined) => sql.array(events.map((e) => f(e) ?? null), 'text');
  await db.query(sql.unsafe`
    INSERT INTO events (kind, repository, digest, tag, actor, payload)
    SELECT kind, repository, digest, tag, actor, payload
    FROM unnest(${column((e) => e.kind)}, ${column((e) => e.repository)}, ${column((e) => e.digest)}, ${column((e) => e.tag)},
                ${column((e) => e.actor)}, ${sql.array(events.map(encodeEvent), 'bytea')})
         WITH ORDINALITY AS e(kind, repository, digest, tag, actor, payload, n)
    ORDER BY n`);
}

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

/** A position in the event journal: after the event (xid, id). */
export interface EventPosition {
  xid: string;
  id: number;
}

export interface EventQuery {
  after: EventPosition | null;
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
