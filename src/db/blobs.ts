import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { Digest } from '../digest/digest.ts';

const BlobRow = z.object({ id: z.number(), blake3: z.instanceof(Buffer), size: z.number() });
export type BlobRow = z.infer<typeof BlobRow>;

function digestColumn(d: Digest) {
  return d.algorithm === 'sha256' ? sql.fragment`b.sha256` : sql.fragment`b.sha512`;
}

/** The blob with this digest, if the named repository links it (one round trip: a hot path). */
export async function findLinkedBlob(db: CommonQueryMethods, repository: string, digest: Digest): Promise<BlobRow | null> {
  return db.maybeOne(sql.type(BlobRow)`
    SELECT b.id, b.blake3, b.size FROM repositories r
    JOIN repository_blobs rb ON rb.repository_id = r.id
    JOIN blobs b ON b.id = rb.blob_id
    WHERE r.name = ${repository} AND ${digestColumn(digest)} = ${sql.binary(Buffer.from(digest.hex, 'hex'))}
      AND b.quarantined_at IS NULL`);
}

/** The blob with this digest anywhere in the registry (quarantined ones excepted: their bytes are gone). */
export async function findBlob(db: CommonQueryMethods, digest: Digest): Promise<BlobRow | null> {
  return db.maybeOne(sql.type(BlobRow)`
    SELECT b.id, b.blake3, b.size FROM blobs b
    WHERE ${digestColumn(digest)} = ${sql.binary(Buffer.from(digest.hex, 'hex'))} AND b.quarantined_at IS NULL`);
}

/**
 * Locks the blob row (the lock order puts blobs before repository_blobs); null when it
 * is gone, e.g. collected since it was looked up.
 */
export async function lockBlob(db: CommonQueryMethods, ref: { id: number } | { digest: Digest }): Promise<number | null> {
  const where = 'id' in ref
    ? sql.fragment`b.id = ${ref.id}`
    : sql.fragment`${digestColumn(ref.digest)} = ${sql.binary(Buffer.from(ref.digest.hex, 'hex'))}`;
  return db.maybeOneFirst(sql.type(z.object({ id: z.number() }))`
    SELECT b.id FROM blobs b WHERE ${where} FOR NO KEY UPDATE`);
}

/** The blob with this digest if a repository whose name matches one of the regexes links it. */
export async function findBlobLinkedIn(db: CommonQueryMethods, digest: Digest, repositoryRegexes: readonly string[]): Promise<BlobRow | null> {
  return db.maybeOne(sql.type(BlobRow)`
    SELECT b.id, b.blake3, b.size FROM blobs b
    WHERE ${digestColumn(digest)} = ${sql.binary(Buffer.from(digest.hex, 'hex'))} AND b.quarantined_at IS NULL
      AND EXISTS (SELECT 1 FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
                  WHERE rb.blob_id = b.id AND r.name ~ ANY(${sql.array(repositoryRegexes, 'text')}))`);
}

/**
 * Inserts the blob row, or adds a missing API digest to the row with the same BLAKE3.
 * A quarantined row is healed: the caller has just written (or found) good bytes.
 *
 * Two statements, not one INSERT ... ON CONFLICT (blake3) DO UPDATE: two uploads of
 * the same new content racing each other can also meet on the sha256 or sha512
 * unique index, which an ON CONFLICT naming blake3 does not cover (a 500, measured
 * 3 in 3 600 concurrent pushes). DO NOTHING covers every unique index; it waits for
 * a racing insert to end, so the UPDATE then finds the row that won.
 */
export async function upsertBlob(
  db: CommonQueryMethods,
  blob: { blake3: Buffer; size: number; sha256?: Buffer; sha512?: Buffer },
): Promise<number> {
  const sha256 = blob.sha256 ? sql.binary(blob.sha256) : null;
  const sha512 = blob.sha512 ? sql.binary(blob.sha512) : null;
  const inserted = await db.maybeOneFirst(sql.type(z.object({ id: z.number() }))`
    INSERT INTO blobs (blake3, size, sha256, sha512)
    VALUES (${sql.binary(blob.blake3)}, ${blob.size}, ${sha256}, ${sha512})
    ON CONFLICT DO NOTHING
    RETURNING id`);
  if (inserted !== null) return inserted;
  return db.oneFirst(sql.type(z.object({ id: z.number() }))`
    UPDATE blobs SET
      sha256 = COALESCE(sha256, ${sha256}::bytea),
      sha512 = COALESCE(sha512, ${sha512}::bytea),
      quarantined_at = NULL
    WHERE blake3 = ${sql.binary(blob.blake3)}
    RETURNING id`);
}

/** Links the blob into the repository; true when the link is new. Keeps blobs.refcount exact. */
export async function linkBlob(db: CommonQueryMethods, repositoryId: number, blobId: number): Promise<boolean> {
  const inserted = await db.maybeOneFirst(sql.type(z.object({ blob_id: z.number() }))`
    INSERT INTO repository_blobs (repository_id, blob_id) VALUES (${repositoryId}, ${blobId})
    ON CONFLICT DO NOTHING
    RETURNING blob_id`);
  if (inserted === null) return false;
  await db.query(sql.unsafe`UPDATE blobs SET refcount = refcount + 1 WHERE id = ${blobId}`);
  return true;
}

const LinkRow = z.object({ blob_id: z.number(), refcount: z.number() });

/** Locks the repository's link to the blob, if any. */
export async function lockLink(db: CommonQueryMethods, repositoryId: number, digest: Digest): Promise<z.infer<typeof LinkRow> | null> {
  return db.maybeOne(sql.type(LinkRow)`
    SELECT rb.blob_id, rb.refcount FROM repository_blobs rb
    JOIN blobs b ON b.id = rb.blob_id
    WHERE rb.repository_id = ${repositoryId}
      AND ${digestColumn(digest)} = ${sql.binary(Buffer.from(digest.hex, 'hex'))}
    FOR UPDATE OF rb`);
}

export async function unlinkBlob(db: CommonQueryMethods, repositoryId: number, blobId: number): Promise<void> {
  await db.query(sql.unsafe`DELETE FROM repository_blobs WHERE repository_id = ${repositoryId} AND blob_id = ${blobId}`);
  await db.query(sql.unsafe`UPDATE blobs SET refcount = refcount - 1 WHERE id = ${blobId}`);
}
