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
//
// The same listener connection holds this process's holder lock (its id is
// written into every lease taken here; migrations/0007_upload_leases.sql). When
// that connection is lost, other processes may take this process's leases over,
// so every writer here is stopped and every kept lease forgotten at once.
import type { CommonQueryMethods } from 'slonik';
import { releaseLease, type SessionRow } from '../../db/uploads.ts';
import { RegistryError } from '../../errors/codes.ts';

const KEEP_MS = 250;

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
  private readonly writers = new Set<AbortController>();
  private readonly db: CommonQueryMethods;
  private readonly keepMs: number;
  private heldId: number | null = null;

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

  /** The id in this process's holder lock while it holds it; null: its leases can only expire. */
  get holder(): number | null {
    return this.heldId;
  }

  /** The listener took its holder lock (an id), or lost it (null): then no lease here is safe to use. */
  setHolder(id: number | null): void {
    if (this.heldId !== null && id !== this.heldId) {
      const lost = new RegistryError('UNAVAILABLE', 'this process lost the database connection that vouches for its upload leases; retry');
      for (const w of this.writers) w.abort(lost);
      for (const e of this.kept.values()) clearTimeout(e.timer);
      this.kept.clear();
    }
    this.heldId = id;
  }

  /** Registers a writer's abort controller while it writes under a lease; returns the unregister function. */
  writing(controller: AbortController): () => void {
    this.writers.add(controller);
    return () => this.writers.delete(controller);
  }

  async close(): Promise<void> {
    await Promise.all([...this.kept.keys()].map((id) => this.giveBack(id)));
  }
}
