// Upload leases kept between chunks. Taking a session's lease is an UPDATE that
// waits for its WAL flush, once per PATCH. A client sends its next chunk as soon
// as the last one is answered, usually to the same process, so a writer that has
// recorded its chunk keeps the lease for a moment (KEEP_MS): the next chunk here
// takes it over from memory and starts writing at once.
//
// The lease stays in the row all along, so no other request can write meanwhile.
// A request on another replica that finds it kept asks for it (a NOTIFY the
// holder's change listener receives, src/db/notify.ts) and it is given back at
// once; without a listener it comes back after KEEP_MS anyway.
import type { CommonQueryMethods } from 'slonik';
import { releaseLease, type SessionRow } from '../db/uploads.ts';

export const KEEP_MS = 250;

export interface KeptLease {
  token: string;
  repository: string;
  /** The row as the holder last wrote it. */
  row: SessionRow;
  /** Date.now() when the holder last sent the lease's extension: it runs at least a lease from then. */
  confirmedAt: number;
}

interface Entry extends KeptLease {
  timer: NodeJS.Timeout;
}

export class KeptLeases {
  private readonly kept = new Map<string, Entry>();
  private readonly db: CommonQueryMethods;
  private readonly keepMs: number;

  /** Leases given back are released in `db`. */
  constructor(db: CommonQueryMethods, keepMs = KEEP_MS) {
    this.db = db;
    this.keepMs = keepMs;
  }

  /** Keeps a lease its writer has finished with; it is given back after keepMs unless taken. */
  keep(id: string, lease: KeptLease): void {
    this.giveBack(id);
    const timer = setTimeout(() => this.giveBack(id), this.keepMs);
    timer.unref();
    this.kept.set(id, { ...lease, timer });
  }

  /** The kept lease of the session in that repository, now the caller's; null when there is none. */
  take(id: string, repository: string): KeptLease | null {
    const e = this.kept.get(id);
    if (!e) return null;
    if (e.repository !== repository) return null;
    clearTimeout(e.timer);
    this.kept.delete(id);
    const { timer: _, ...lease } = e;
    return lease;
  }

  /** Gives a kept lease back now: another request asked for it, or the process stops. */
  giveBack(id: string): Promise<void> {
    const e = this.kept.get(id);
    if (!e) return Promise.resolve();
    clearTimeout(e.timer);
    this.kept.delete(id);
    return releaseLease(this.db, id, e.token).catch(() => undefined); // unreleased, it expires
  }

  /** Forgets a kept lease whose row is gone. */
  forget(id: string): void {
    const e = this.kept.get(id);
    if (e) clearTimeout(e.timer);
    this.kept.delete(id);
  }

  async close(): Promise<void> {
    await Promise.all([...this.kept.keys()].map((id) => this.giveBack(id)));
  }
}
