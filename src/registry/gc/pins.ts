// Pins keep a blob's bytes safe from collectors between the moment an upload
// writes (or reuses) them and the commit of the row that names them. The
// protocol, with its fences, is described in docs/architecture.md ("Pins and fences").
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CommonQueryMethods, DatabasePool } from 'slonik';
import { dropPin, insertPinUnlessFenced, lockBlobKey } from '../../db/gc.ts';
import { commitWithoutFlush } from '../../db/pool.ts';
import { RegistryError } from '../../errors/codes.ts';

/** Long enough for the slowest completion (a multi-GiB S3 copy takes seconds). */
const PIN_SECONDS = 3600;
/** How long an upload waits for a collector to finish deleting the same bytes. */
const FENCE_WAIT_MS = 30_000;

export interface Pin {
  token: string;
  blake3: Buffer;
}

/** Pins the key, first waiting out a collector that is deleting those bytes right now. */
export async function pinBlob(pool: DatabasePool, blake3: Buffer): Promise<Pin> {
  const token = randomUUID();
  const deadline = Date.now() + FENCE_WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    const pinned = await pool.transaction(async (tx) => {
      // No need to wait for this commit's WAL flush: a pin lost in a database crash
      // only makes consumePin refuse the upload, it can never let a row name deleted bytes.
      await commitWithoutFlush(tx);
      await lockBlobKey(tx, blake3);
      return insertPinUnlessFenced(tx, token, blake3, PIN_SECONDS);
    });
    if (pinned) return { token, blake3 };
    if (Date.now() > deadline) {
      throw new RegistryError('UNAVAILABLE', 'this content is being garbage-collected right now; retry the upload');
    }
    await sleep(Math.min(20 * 2 ** attempt, 1000));
  }
}

/** In the committing transaction: the pin must still be live, or its bytes may be gone. */
export async function consumePin(tx: CommonQueryMethods, pin: Pin): Promise<void> {
  if (!(await dropPin(tx, pin.token))) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', 'the upload took longer than its pin lasts; upload the blob again');
  }
}

export async function releasePin(pool: DatabasePool, pin: Pin): Promise<void> {
  await dropPin(pool, pin.token).catch(() => undefined);
}
