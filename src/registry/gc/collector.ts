// Online garbage collection. Triggers put rows that became unreferenced on review
// queues (migrations/0003_gc.sql); this reviews the entries older than the review
// delay, each in its own transaction: lock the row, recheck that nothing references
// it, delete it, append the event. Bytes are deleted only after that commit, behind
// a fence that uploads of the same content wait for, so no committed row ever
// names missing bytes. A reference that comes back before the review wins.
import type { CommonQueryMethods, DatabasePool, DatabaseTransactionConnection } from 'slonik';
import { unlinkBlob } from '../../db/blobs.ts';
import { appendEvent } from '../../db/events.ts';
import * as q from '../../db/gc.ts';
import { deleteManifestRow } from '../../db/manifests.ts';
import { notifyManifestChange } from '../../db/notify.ts';
import { lockRepositoryForWrite } from '../../db/repositories.ts';
import { blobKey, type BlobStore } from '../../storage/blob-store.ts';
import type { GcPolicy } from '../../shared/policies.ts';

export interface GcItem {
  target: 'manifest' | 'link' | 'blob';
  repository?: string;
  digest: string;
  size?: number;
}

export interface GcReport {
  deleted: GcItem[];
  bytesFreed: number;
  /** Referrers reviewed and kept because their subject is present. */
  kept: number;
  /** Entries left for a later pass: pinned by an upload in flight, or locked by another collector. */
  deferred: number;
  dryRun: boolean;
}

export interface GcDeps {
  pool: DatabasePool;
  store: BlobStore;
}

/** A fence older than this belongs to a collector that stopped before deleting the bytes. */
const STALE_FENCE_SECONDS = 600;
const BATCH = 200;

type Tx = DatabaseTransactionConnection;
type RunTx = <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;
type Outcome = { item: GcItem; key?: Buffer } | 'kept' | 'reviewed' | 'deferred' | null;

class DryRunDone extends Error {}

/** One collection pass, repeated while it makes progress (a deleted index frees its children, and so on). */
export async function collectGarbage(deps: GcDeps, policy: GcPolicy, opts: { dryRun?: boolean } = {}): Promise<GcReport> {
  const report: GcReport = { deleted: [], bytesFreed: 0, kept: 0, deferred: 0, dryRun: opts.dryRun === true };
  if (!opts.dryRun) {
    await finishStaleFences(deps);
    await passes(deps, deps.pool, (fn) => deps.pool.transaction(fn), policy, report);
    return report;
  }
  // A dry run does the real work inside one transaction and rolls it back, so it
  // reports the whole cascade exactly as a real pass would find it now.
  await deps.pool
    .transaction(async (outer) => {
      await passes(deps, outer, (fn) => outer.transaction(fn), policy, report);
      throw new DryRunDone();
    })
    .catch((err: unknown) => {
      if (!(err instanceof DryRunDone)) throw err;
    });
  return report;
}

async function passes(deps: GcDeps, db: CommonQueryMethods, runTx: RunTx, policy: GcPolicy, report: GcReport): Promise<void> {
  const delay = policy.reviewDelay;
  for (let round = 0; round < 1000; round++) {
    const outcomes: Outcome[] = [];
    for (const id of await q.dueManifests(db, delay, BATCH, policy.untagged === 'delete')) outcomes.push(await reviewManifest(runTx, id, policy));
    for (const l of await q.dueLinks(db, delay, BATCH)) outcomes.push(await reviewLink(runTx, l.repository_id, l.blob_id, delay));
    for (const id of await q.dueBlobs(db, delay, BATCH)) {
      const outcome = await reviewBlob(runTx, id, delay);
      if (!report.dryRun && typeof outcome === 'object' && outcome?.key) await deleteBytes(deps, outcome.key);
      outcomes.push(outcome);
    }
    let progressed = false;
    report.deferred = 0;
    for (const o of outcomes) {
      if (o === 'deferred') report.deferred += 1;
      else if (o === 'kept') report.kept += 1;
      else if (o !== null && typeof o === 'object') {
        report.deleted.push(o.item);
        if (o.item.target === 'blob') report.bytesFreed += o.item.size ?? 0;
      }
      if (o !== null && o !== 'deferred') progressed = true;
    }
    if (!progressed) return;
  }
}

async function reviewManifest(runTx: RunTx, manifestId: number, policy: GcPolicy): Promise<Outcome> {
  return runTx(async (tx) => {
    const repositoryId = await q.manifestRepository(tx, manifestId);
    if (repositoryId === null) return null;
    await lockRepositoryForWrite(tx, repositoryId);
    const m = await q.lockManifestForReview(tx, manifestId);
    if (!m || !(await q.takeDue(tx, { manifest: manifestId }, policy.reviewDelay))) return null;
    if (m.refcount > 0) return 'reviewed';
    // a referrer kept now is reviewed again when its subject goes (a trigger re-queues it)
    const collect = m.subject_digest !== null ? policy.orphanReferrers && !m.subject_present : policy.untagged === 'delete';
    if (!collect) return 'kept';
    await deleteManifestRow(tx, repositoryId, manifestId);
    await appendEvent(tx, { kind: 'gc.delete', target: 'manifest', repository: m.repository, digest: m.digest, actor: 'gc' });
    await notifyManifestChange(tx, m.repository);
    return { item: { target: 'manifest', repository: m.repository, digest: m.digest } };
  });
}

async function reviewLink(runTx: RunTx, repositoryId: number, blobId: number, delay: number): Promise<Outcome> {
  return runTx(async (tx) => {
    const link = await q.lockLinkForReview(tx, repositoryId, blobId);
    if (!link || !(await q.takeDue(tx, { repository: repositoryId, linkBlob: blobId }, delay))) return null;
    if (link.refcount > 0) return 'reviewed';
    await unlinkBlob(tx, repositoryId, blobId);
    await appendEvent(tx, { kind: 'gc.delete', target: 'link', repository: link.repository, digest: link.digest, actor: 'gc' });
    return { item: { target: 'link', repository: link.repository, digest: link.digest } };
  });
}

async function reviewBlob(runTx: RunTx, blobId: number, delay: number): Promise<Outcome> {
  return runTx(async (tx) => {
    const key = await q.blobKeyOf(tx, blobId);
    if (key === null) return null;
    if (!(await q.tryLockBlobKey(tx, key))) return 'deferred'; // an upload of the same content is committing
    const blob = await q.lockBlobForReview(tx, blobId);
    if (!blob) return null;
    if (blob.refcount > 0) return (await q.takeDue(tx, { blob: blobId }, delay)) ? 'reviewed' : null;
    if (!(await q.bytesDeletable(tx, key))) return 'deferred'; // an upload is about to link it again
    if (!(await q.takeDue(tx, { blob: blobId }, delay))) return null;
    await q.insertFence(tx, key);
    await q.deleteBlobRow(tx, blobId);
    await appendEvent(tx, { kind: 'gc.delete', target: 'blob', digest: blob.digest, size: blob.size, actor: 'gc' });
    return { item: { target: 'blob', digest: blob.digest, size: blob.size }, key };
  });
}

/** After the commit: the bytes, then the fence (a failure leaves the fence for a later pass). */
export async function deleteBytes(deps: GcDeps, key: Buffer): Promise<void> {
  try {
    await deps.store.delete(blobKey(key));
    await q.deleteFence(deps.pool, key);
  } catch {
    // the fence stays; finishStaleFences retries once it is old
  }
}

async function finishStaleFences(deps: GcDeps): Promise<void> {
  for (const key of await q.staleFences(deps.pool, STALE_FENCE_SECONDS)) await deleteBytes(deps, key);
}
