// The event journal as clients see it: JSON events and opaque cursors. Used by
// the admin API and by the webhook bodies, so both show an event the same way.
import { Decoder } from 'cbor-x';
import type { CommonQueryMethods } from 'slonik';
import { readEvents, type EventRow, type EventPosition } from '../../db/events.ts';
import { RegistryError } from '../../errors/codes.ts';
import type { RepoName } from '../../shared/names.ts';

const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

export const DEFAULT_EVENT_LIMIT = 100;
export const MAX_EVENT_LIMIT = 1000;

export interface ClientEvent {
  id: number;
  kind: string;
  repository: string | null;
  digest: string | null;
  tag: string | null;
  actor: string | null;
  time: string;
  [field: string]: unknown;
}

export function toClientEvent(row: EventRow): ClientEvent {
  const decoded: unknown = decoder.decode(row.payload);
  const payload = decoded !== null && typeof decoded === 'object' ? (decoded as Record<string, unknown>) : {};
  return {
    ...payload,
    id: row.id,
    kind: row.kind,
    repository: row.repository,
    digest: row.digest,
    tag: row.tag,
    actor: row.actor,
    time: new Date(row.time_ms).toISOString(),
  };
}

/** Cursors are "<xid>-<id>" of the last event returned; clients treat them as opaque. */
function formatCursor(p: EventPosition): string {
  return `${p.xid}-${p.id}`;
}

export function parseCursor(text: string): EventPosition {
  const m = /^(\d{1,19})-(\d{1,15})$/.exec(text);
  if (!m) throw new RegistryError('PAGINATION_CURSOR_INVALID', `since must be a cursor returned as "next", got "${text.slice(0, 64)}"`);
  return { xid: m[1] as string, id: Number(m[2]) };
}

export interface EventPage {
  events: ClientEvent[];
  /** Where the next read starts: after the last event returned, or `since` when none was. */
  next: string;
  /** The page was full: more events may follow right away. */
  more: boolean;
}

export async function eventPage(
  db: CommonQueryMethods,
  q: { since: EventPosition | null; repository: RepoName | null; limit: number },
): Promise<EventPage> {
  const rows = await readEvents(db, { after: q.since, repository: q.repository, limit: q.limit });
  const last = rows[rows.length - 1];
  const next = last ? formatCursor(last) : q.since ? formatCursor(q.since) : '0-0';
  return { events: rows.map(toClientEvent), next, more: q.limit > 0 && rows.length === q.limit };
}
