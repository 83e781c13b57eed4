// Queries of the collector: pins, fences and the per-blob advisory lock that
// orders them, and the review queues. docs/architecture.md explains the protocol
// ("Garbage collection", "Pins and fences"); the tables are in migrations/0003_gc.sql.
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

/** The transaction-scoped advisory lock of one BLAKE3 key (its first 8 bytes as the lock id). */
function lockId(blake3: Buffer) {
  return sql.fragment`('x' || encode(substring(${sql.binary(blake3)}::bytea FROM 1 FOR 8), 'hex'))::bit(64)::bigint`;
}

export async function lockBlobKey(db: CommonQueryMethods, blake3: Buffer): Promise<void> {
  await db.query(sql.unsafe`SELECT pg_advisory_xact_lock(${lockId(blake3)})`);
}

/** Like lockBlobKey, but gives up at once (false) when another transaction holds it. */
export async function tryLockBlobKey(db: CommonQueryMethods, blake3: Buffer): Promise<boolean> {
  return db.oneFirst(sql.type(z.object({ ok: z.boolean() }))`SELECT pg_try_advisory_xact_lock(${lockId(blake3)}) AS ok`);
}

/**
 * Pins the key unless a fence is up, in one statement; false when fenced. Call under the
 * key's lock: the statement then sees any fence committed before the lock was granted.
 */
export async function insertPinUnlessFenced(db: CommonQueryMethods, token: string, blake3: Buffer, seconds: number): Promise<boolean> {
  const pinned = await db.maybeOneFirst(sql.type(z.object({ token: z.string() }))`
    INSERT INTO blob_pins (token, blake3, expires_at)
    SELECT ${token}::uuid, ${sql.binary(blake3)}, now() + make_interval(secs => ${seconds})
    WHERE NOT EXISTS (SELECT 1 FROM blob_deletions WHERE blake3 = ${sql.binary(blake3)})
    RETURNING token::text`);
  return pinned !== null;
}

/** Removes the pin; true when it was still live (so no collector can have touched its bytes). */
export async function dropPin(db: CommonQueryMethods, token: string): Promise<boolean> {
  const live = await db.maybeOneFirst(sql.type(z.object({ live: z.boolean() }))`
    DELETE FROM blob_pins WHERE token = ${token}::uuid RETURNING expires_at > now() AS live`);
  return live === true;
}

/** True when bytes with this key may be deleted now: no live pin, no fence. Call under the key's lock. */
export async function bytesDeletable(db: CommonQueryMethods, blake3: Buffer): Promise<boolean> {
  return !(await db.exists(sql.unsafe`
    SELECT 1 FROM blob_pins WHERE blake3 = ${sql.binary(blake3)} AND expires_at > now()
    UNION ALL SELECT 1 FROM blob_deletions WHERE blake3 = ${sql.binary(blake3)}`));
}

export async function insertFence(db: CommonQueryMethods, blake3: Buffer): Promise<void> {
  await db.query(sql.unsafe`INSERT INTO blob_deletions (blake3) VALUES (${sql.binary(blake3)})`);
}

export async function deleteFence(db: CommonQueryMethods, blake3: Buffer): Promise<void> {
  await db.query(sql.unsafe`DELETE FROM blob_deletions WHERE blake3 = ${sql.binary(blake3)}`);
}

/** Fences left by a collector that stopped between its commit and deleting the bytes. */
export async function staleFences(db: CommonQueryMethods, olderThanSeconds: number): Promise<readonly Buffer[]> {
  return db.anyFirst(sql.type(z.object({ blake3: z.instanceof(Buffer) }))`
    SELECT blake3 FROM blob_deletions WHERE started_at < now() - make_interval(secs => ${olderThanSeconds})`);
}

export async function dropExpiredPins(db: CommonQueryMethods): Promise<number> {
  const rows = await db.query(sql.unsafe`DELETE FROM blob_pins WHERE expires_at < now() - interval '1 hour'`);
  return rows.rowCount;
}

/** Which of these keys some blob row names. */
export async function keysWithRows(db: CommonQueryMethods, keys: readonly Buffer[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const found = await db.anyFirst(sql.type(z.object({ blake3: z.instanceof(Buffer) }))`
    SELECT blake3 FROM blobs WHERE blake3 = ANY(${sql.array([...keys], 'bytea')})`);
  return new Set(found.map((b) => b.toString('hex')));
}

export async function blobRowExists(db: CommonQueryMethods, blake3: Buffer): Promise<boolean> {
  return db.exists(sql.unsafe`SELECT 1 FROM blobs WHERE blake3 = ${sql.binary(blake3)}`);
}

const Due = z.object({ id: z.number() });
const DueLink = z.object({ repository_id: z.number(), blob_id: z.number() });

/** Queue entries unreferenced for at least `delay` seconds, oldest first (read without locks). */
export async function dueBlobs(db: CommonQueryMethods, delay: number, limit: number): Promise<readonly number[]> {
  return db.anyFirst(sql.type(Due)`
    SELECT blob_id AS id FROM gc_blob_reviews
    WHERE since <= now() - make_interval(secs => ${delay}) ORDER BY since LIMIT ${limit}`);
}

/** With `untagged` false only referrers are due: plain untagged manifests wait in the queue for a policy that collects them. */
export async function dueManifests(db: CommonQueryMethods, delay: number, limit: number, untagged: boolean): Promise<readonly number[]> {
  return db.anyFirst(sql.type(Due)`
    SELECT q.manifest_id AS id FROM gc_manifest_reviews q JOIN manifests m ON m.id = q.manifest_id
    WHERE q.since <= now() - make_interval(secs => ${delay}) AND (${untagged}::boolean OR m.subject_digest IS NOT NULL)
    ORDER BY q.since LIMIT ${limit}`);
}

export async function dueLinks(db: CommonQueryMethods, delay: number, limit: number) {
  return db.any(sql.type(DueLink)`
    SELECT repository_id, blob_id FROM gc_link_reviews
    WHERE since <= now() - make_interval(secs => ${delay}) ORDER BY since LIMIT ${limit}`);
}

/** Takes the entry off the queue if it is (still) due; false when a newer reference dropped it. */
export async function takeDue(
  db: CommonQueryMethods,
  entry: { blob: number } | { manifest: number } | { repository: number; linkBlob: number },
  delay: number,
): Promise<boolean> {
  const due = sql.fragment`since <= now() - make_interval(secs => ${delay})`;
  if ('blob' in entry) {
    return (await db.query(sql.unsafe`DELETE FROM gc_blob_reviews WHERE blob_id = ${entry.blob} AND ${due}`)).rowCount > 0;
  }
  if ('manifest' in entry) {
    return (await db.query(sql.unsafe`DELETE FROM gc_manifest_reviews WHERE manifest_id = ${entry.manifest} AND ${due}`)).rowCount > 0;
  }
  return (await db.query(sql.unsafe`
    DELETE FROM gc_link_reviews WHERE repository_id = ${entry.repository} AND blob_id = ${entry.linkBlob} AND ${due}`)).rowCount > 0;
}

const ManifestForReview = z.object({
  repository_id: z.number(),
  repository: z.string(),
  digest: z.string(),
  refcount: z.number(),
  subject_digest: z.string().nullable(),
  subject_present: z.boolean(),
});

export async function manifestRepository(db: CommonQueryMethods, manifestId: number): Promise<number | null> {
  return db.maybeOneFirst(sql.type(z.object({ repository_id: z.number() }))`
    SELECT repository_id FROM manifests WHERE id = ${manifestId}`);
}

/** Locks the manifest (its repository already locked) and says whether a referrer's subject is present. */
export async function lockManifestForReview(db: CommonQueryMethods, manifestId: number) {
  return db.maybeOne(sql.type(ManifestForReview)`
    SELECT m.repository_id, r.name AS repository, m.digest, m.refcount, m.subject_digest,
           EXISTS (SELECT 1 FROM manifests s WHERE s.repository_id = m.repository_id
                   AND (s.digest = m.subject_digest OR s.digest_sha512 = m.subject_digest)) AS subject_present
    FROM manifests m JOIN repositories r ON r.id = m.repository_id
    WHERE m.id = ${manifestId}
    FOR UPDATE OF m`);
}

const BlobForReview = z.object({
  blake3: z.instanceof(Buffer),
  refcount: z.number(),
  size: z.number(),
  digest: z.string(),
});

/** The blob's API digest (SHA-256, or SHA-512 for blobs only ever pushed with one), as `digest`. */
function apiDigest(alias: 'blobs' | 'b' = 'blobs') {
  const t = sql.identifier([alias]);
  return sql.fragment`COALESCE('sha256:' || encode(${t}.sha256, 'hex'), 'sha512:' || encode(${t}.sha512, 'hex')) AS digest`;
}

export async function blobKeyOf(db: CommonQueryMethods, blobId: number): Promise<Buffer | null> {
  return db.maybeOneFirst(sql.type(z.object({ blake3: z.instanceof(Buffer) }))`SELECT blake3 FROM blobs WHERE id = ${blobId}`);
}

export async function lockBlobForReview(db: CommonQueryMethods, blobId: number) {
  return db.maybeOne(sql.type(BlobForReview)`
    SELECT blake3, refcount, size, ${apiDigest()} FROM blobs WHERE id = ${blobId} FOR UPDATE`);
}

export async function deleteBlobRow(db: CommonQueryMethods, blobId: number): Promise<void> {
  await db.query(sql.unsafe`DELETE FROM blobs WHERE id = ${blobId}`);
}

const LinkForReview = z.object({ refcount: z.number(), repository: z.string(), digest: z.string() });

/** Locks the link, after its blob row (the lock order). */
export async function lockLinkForReview(db: CommonQueryMethods, repositoryId: number, blobId: number) {
  await db.query(sql.unsafe`SELECT id FROM blobs WHERE id = ${blobId} FOR NO KEY UPDATE`);
  return db.maybeOne(sql.type(LinkForReview)`
    SELECT rb.refcount, r.name AS repository, ${apiDigest('b')}
    FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id JOIN blobs b ON b.id = rb.blob_id
    WHERE rb.repository_id = ${repositoryId} AND rb.blob_id = ${blobId}
    FOR UPDATE OF rb`);
}

const ScrubRow = z.object({ id: z.number(), blake3: z.instanceof(Buffer), size: z.number(), digest: z.string() });

/** Blob rows after `afterId`, in id order, for the scrub. */
export async function blobsAfter(db: CommonQueryMethods, afterId: number, limit: number) {
  return db.any(sql.type(ScrubRow)`
    SELECT id, blake3, size, ${apiDigest()} FROM blobs
    WHERE id > ${afterId} AND quarantined_at IS NULL ORDER BY id LIMIT ${limit}`);
}

export async function markQuarantined(db: CommonQueryMethods, blobId: number): Promise<void> {
  await db.query(sql.unsafe`UPDATE blobs SET quarantined_at = now() WHERE id = ${blobId}`);
}

const Depths = z.object({ manifests: z.number(), links: z.number(), blobs: z.number(), fences: z.number(), pins: z.number() });

/** What waits for review (due or not), for the worker's periodic status line. */
export async function queueDepths(db: CommonQueryMethods) {
  return db.one(sql.type(Depths)`
    SELECT (SELECT count(*) FROM gc_manifest_reviews)::int8 AS manifests,
           (SELECT count(*) FROM gc_link_reviews)::int8 AS links,
           (SELECT count(*) FROM gc_blob_reviews)::int8 AS blobs,
           (SELECT count(*) FROM blob_deletions)::int8 AS fences,
           (SELECT count(*) FROM blob_pins)::int8 AS pins`);
}
