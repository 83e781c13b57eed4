// Integrity scrub: re-reads every stored blob, recomputes its BLAKE3 and compares
// it (and the size) with the row. A damaged or missing object is quarantined: the
// row is marked (the blob then reads as unknown, so clients push it again, which
// heals it) and the bytes are moved aside for inspection, behind a fence so no
// upload reuses them meanwhile.
import type { DatabasePool } from 'slonik';
import { lockBlob } from '../../db/blobs.ts';
import { appendEvent } from '../../db/events.ts';
import * as q from '../../db/gc.ts';
import { createBlake3 } from '../../digest/blake3.ts';
import { countScrubRun } from '../../shared/telemetry.ts';
import { blobKey, StorageError, type BlobStore } from '../../storage/blob-store.ts';

export interface ScrubDeps {
  pool: DatabasePool;
  store: BlobStore;
}

export interface ScrubFinding {
  digest: string;
  blake3: string;
  reason: 'mismatch' | 'missing';
  detail: string;
  /** false when an upload of the same content was in flight: reported, quarantined by a later scrub. */
  quarantined: boolean;
}

export interface ScrubReport {
  checked: number;
  bytes: number;
  findings: ScrubFinding[];
}

export async function scrub(deps: ScrubDeps, opts: { onProgress?: (checked: number) => void } = {}): Promise<ScrubReport> {
  try {
    const report = await scrubAll(deps, opts);
    countScrubRun('ok', report.findings.length);
    return report;
  } catch (err) {
    countScrubRun('failed');
    throw err;
  }
}

async function scrubAll(deps: ScrubDeps, opts: { onProgress?: (checked: number) => void }): Promise<ScrubReport> {
  const report: ScrubReport = { checked: 0, bytes: 0, findings: [] };
  let after = 0;
  for (;;) {
    const rows = await q.blobsAfter(deps.pool, after, 100);
    if (rows.length === 0) return report;
    for (const row of rows) {
      after = row.id;
      const problem = await check(deps.store, row.blake3, row.size);
      report.checked += 1;
      report.bytes += row.size;
      if (problem) {
        const quarantined = await quarantine(deps, row, problem.reason);
        report.findings.push({ digest: row.digest, blake3: row.blake3.toString('hex'), ...problem, quarantined });
      }
    }
    opts.onProgress?.(report.checked);
  }
}

async function check(store: BlobStore, blake3: Buffer, size: number): Promise<Pick<ScrubFinding, 'reason' | 'detail'> | null> {
  const hash = createBlake3();
  let read = 0;
  try {
    for await (const chunk of await store.read(blobKey(blake3))) {
      hash.update(chunk as Buffer);
      read += (chunk as Buffer).length;
    }
  } catch (err) {
    if (err instanceof StorageError && err.kind === 'not_found') return { reason: 'missing', detail: 'no stored object' };
    throw err;
  }
  const computed = hash.digest();
  if (read !== size) return { reason: 'mismatch', detail: `stored ${read} bytes, the row says ${size}` };
  if (!computed.equals(blake3)) return { reason: 'mismatch', detail: `stored bytes hash to blake3:${computed.toString('hex')}` };
  return null;
}

async function quarantine(deps: ScrubDeps, blob: { id: number; blake3: Buffer; digest: string }, reason: string): Promise<boolean> {
  const key = blob.blake3;
  const fenced = await deps.pool.transaction(async (tx) => {
    await q.lockBlobKey(tx, key);
    if ((await lockBlob(tx, { id: blob.id })) === null || !(await q.bytesDeletable(tx, key))) return null;
    await q.insertFence(tx, key);
    await q.markQuarantined(tx, blob.id);
    await appendEvent(tx, { kind: 'blob.quarantine', digest: blob.digest, reason, actor: 'scrub' });
    return true;
  });
  if (!fenced) return false;
  await deps.store.quarantine(blobKey(key));
  await q.deleteFence(deps.pool, key);
  return true;
}
