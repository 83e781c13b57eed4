// Sweeps for what a crash or an abandoned client leaves behind:
//  - upload sessions idle past their expiry, or cut off (or their writer killed)
//    and not resumed within the resume window, with their staged bytes (and, on
//    S3, their multipart uploads);
//  - staged bytes no session row names (a single-request upload that crashed);
//  - objects no blob row names (a crash between writing the bytes and the commit),
//    deleted behind a fence like the collector's, under the same pin rules.
// Only things older than a grace period are touched, so work in flight is safe.
import { decode } from 'cbor-x';
import type { DatabasePool } from 'slonik';
import * as q from '../../db/gc.ts';
import { existingSessions, takeExpiredSessions } from '../../db/uploads.ts';
import type { BlobStore, StoredObjectInfo, UploadState } from '../../storage/blob-store.ts';
import { deleteBytes } from './collector.ts';

export interface SweepDeps {
  pool: DatabasePool;
  store: BlobStore;
}

export interface SweepReport {
  expiredSessions: number;
  orphanUploads: number;
  orphanObjects: number;
  bytesFreed: number;
}

const BATCH = 500;

/** When upload sessions and staged bytes are given back (seconds). */
export interface UploadSweepTimes {
  /** A session idle between requests this long expires. */
  sessionIdle: number;
  /** A session whose request was cut off, and staged bytes no session names, wait this long for the client. */
  resumeWindow: number;
}

/** Removes sessions idle past their expiry, or cut off and not resumed in time, then their staged bytes. */
export async function expireSessions(deps: SweepDeps, times: UploadSweepTimes): Promise<number> {
  let total = 0;
  for (;;) {
    const rows = await takeExpiredSessions(deps.pool, times.sessionIdle, times.resumeWindow, BATCH);
    for (const row of rows) {
      const saved = decode(row.driver_state) as UploadState;
      await deps.store.abortUpload({ ...saved, size: row.byte_offset }).catch(() => undefined);
    }
    total += rows.length;
    if (rows.length < BATCH) return total;
  }
}

/** Staged uploads older than the grace period that no session row names. */
export async function sweepUploads(deps: SweepDeps, graceSeconds: number): Promise<number> {
  let removed = 0;
  for await (const batch of batches(deps.store.list('uploads'), graceSeconds)) {
    const live = await existingSessions(deps.pool, batch.map((u) => u.key));
    for (const u of batch) {
      if (live.has(u.key)) continue;
      await deps.store.abortUpload({ uploadId: u.key, size: 0 });
      removed += 1;
    }
  }
  return removed;
}

/** Objects older than the grace period that no blob row names. */
export async function sweepObjects(deps: SweepDeps, graceSeconds: number): Promise<{ count: number; bytes: number }> {
  const swept = { count: 0, bytes: 0 };
  for await (const batch of batches(deps.store.list('objects'), graceSeconds)) {
    const keys = batch.map((o) => Buffer.from(o.key, 'hex'));
    const named = await q.keysWithRows(deps.pool, keys);
    for (const [i, key] of keys.entries()) {
      if (named.has(key.toString('hex')) || !(await fenceOrphan(deps.pool, key))) continue;
      await deleteBytes(deps, key);
      swept.count += 1;
      swept.bytes += batch[i]?.size ?? 0;
    }
  }
  return swept;
}

/** Under the key's lock: still no row, no live pin, no fence → fence it. */
async function fenceOrphan(pool: DatabasePool, key: Buffer): Promise<boolean> {
  return pool.transaction(async (tx) => {
    if (!(await q.tryLockBlobKey(tx, key))) return false;
    if ((await q.blobRowExists(tx, key)) || !(await q.bytesDeletable(tx, key))) return false;
    await q.insertFence(tx, key);
    return true;
  });
}

async function* batches(items: AsyncIterable<StoredObjectInfo>, graceSeconds: number): AsyncGenerator<StoredObjectInfo[]> {
  const cutoff = Date.now() - graceSeconds * 1000;
  let batch: StoredObjectInfo[] = [];
  for await (const item of items) {
    if (item.modified.getTime() > cutoff) continue;
    batch.push(item);
    if (batch.length >= BATCH) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * What interrupted uploads leave: sessions cut off and not resumed, and staged
 * bytes no session names (a single-request upload whose process was killed).
 * A live upload is never touched: its session's lease is held, or, without a
 * session, its staging is written to as bytes arrive (a stalled client is cut
 * off by the idle-body timeout long before the window ends).
 */
export async function sweepAbandoned(deps: SweepDeps, times: UploadSweepTimes): Promise<{ expiredSessions: number; orphanUploads: number }> {
  const expiredSessions = await expireSessions(deps, times);
  const orphanUploads = await sweepUploads(deps, times.resumeWindow);
  return { expiredSessions, orphanUploads };
}

export async function sweepAll(deps: SweepDeps, opts: UploadSweepTimes & { grace: number }): Promise<SweepReport> {
  const { expiredSessions, orphanUploads } = await sweepAbandoned(deps, opts);
  const objects = await sweepObjects(deps, opts.grace);
  await q.dropExpiredPins(deps.pool);
  return { expiredSessions, orphanUploads, orphanObjects: objects.count, bytesFreed: objects.bytes };
}
