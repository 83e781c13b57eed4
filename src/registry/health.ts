// What readiness asks of the two stores the registry depends on: each question
// cheap, answered by the real server (a query, a stat), never by a cache.
import type { DatabasePool } from 'slonik';
import { ping } from '../db/gauges.ts';
import { blobKey, type BlobStore } from '../storage/blob-store.ts';

/** A key no object has (BLAKE3 of nothing would be a real key): a stat of it asks the storage and costs nothing. */
const PROBE_KEY = blobKey('0'.repeat(64));

export function pingDatabase(pool: DatabasePool): Promise<void> {
  return ping(pool);
}

export async function pingStorage(store: BlobStore): Promise<void> {
  await store.stat(PROBE_KEY);
}
