// The event journal: one row per committed change, written in the same
// transaction as the change. The payload is the whole event as canonical CBOR;
// the indexed columns repeat what queries filter on.
import { Encoder } from 'cbor-x';
import { sql, type CommonQueryMethods } from 'slonik';

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
