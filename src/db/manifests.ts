import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

// A manifest row is one content; `digest` (its sha256 name, the identity) and
// `digest_sha512` both name it, and a lookup by either finds it (docs/architecture.md).
const ManifestRow = z.object({
  id: z.number(),
  digest: z.string(),
  digest_sha512: z.string(),
  media_type: z.string(),
  content: z.instanceof(Buffer),
  /** The algorithm of the tag it was looked up by; null for a lookup by digest. */
  algorithm: z.enum(['sha256', 'sha512']).nullable(),
});
export type ManifestRow = z.infer<typeof ManifestRow>;

/** The column holding names of this digest's algorithm. */
function nameColumn(digest: string) {
  return digest.startsWith('sha512:') ? sql.fragment`m.digest_sha512` : sql.fragment`m.digest`;
}

/** One round trip for the hot read path: repository name and tag or digest to the manifest. */
export async function lookupManifest(db: CommonQueryMethods, repository: string, ref: { tag: string } | { digest: string }): Promise<ManifestRow | null> {
  if ('tag' in ref) {
    return db.maybeOne(sql.type(ManifestRow)`
      SELECT m.id, m.digest, m.digest_sha512, m.media_type, m.content, t.algorithm FROM repositories r
      JOIN tags t ON t.repository_id = r.id AND t.name = ${ref.tag}
      JOIN manifests m ON m.id = t.manifest_id
      WHERE r.name = ${repository}`);
  }
  return db.maybeOne(sql.type(ManifestRow)`
    SELECT m.id, m.digest, m.digest_sha512, m.media_type, m.content, NULL AS algorithm FROM repositories r
    JOIN manifests m ON m.repository_id = r.id AND ${nameColumn(ref.digest)} = ${ref.digest}
    WHERE r.name = ${repository}`);
}

const RefRow = z.object({ id: z.number(), digest: z.string(), digest_sha512: z.string(), size: z.number() });
export type ManifestRef = z.infer<typeof RefRow>;

/** Locks and returns the repository's manifests named by any of these digests, in id order. */
export async function lockManifestsByDigest(db: CommonQueryMethods, repositoryId: number, digests: string[]): Promise<readonly ManifestRef[]> {
  if (digests.length === 0) return [];
  const names = sql.array(digests, 'text');
  return db.any(sql.type(RefRow)`
    SELECT id, digest, digest_sha512, length(content)::int8 AS size FROM manifests m
    WHERE repository_id = ${repositoryId} AND (digest = ANY(${names}) OR digest_sha512 = ANY(${names}))
    ORDER BY id FOR UPDATE`);
}

const LinkedBlobRow = z.object({ blob_id: z.number(), sha256: z.string().nullable(), sha512: z.string().nullable(), size: z.number() });

/** Locks the repository's links to the blobs with these digests, in blob id order. */
export async function lockLinkedBlobs(db: CommonQueryMethods, repositoryId: number, hexes: { sha256: Buffer[]; sha512: Buffer[] }) {
  if (hexes.sha256.length + hexes.sha512.length === 0) return [];
  return db.any(sql.type(LinkedBlobRow)`
    SELECT rb.blob_id, encode(b.sha256, 'hex') AS sha256, encode(b.sha512, 'hex') AS sha512, b.size
    FROM repository_blobs rb JOIN blobs b ON b.id = rb.blob_id
    WHERE rb.repository_id = ${repositoryId}
      AND (b.sha256 = ANY(${sql.array(hexes.sha256, 'bytea')}) OR b.sha512 = ANY(${sql.array(hexes.sha512, 'bytea')}))
    ORDER BY rb.blob_id FOR UPDATE OF rb`);
}

/** The names of the repository's manifest named `digest`, unlocked. */
export async function lookupNames(db: CommonQueryMethods, repositoryId: number, digest: string): Promise<readonly ManifestRef[]> {
  return db.any(sql.type(RefRow)`
    SELECT id, digest, digest_sha512, length(content)::int8 AS size FROM manifests m
    WHERE repository_id = ${repositoryId} AND ${nameColumn(digest)} = ${digest}`);
}

export interface NewManifest {
  repositoryId: number;
  digest: string;
  digestSha512: string;
  mediaType: string;
  artifactType: string | null;
  subject: string | null;
  annotations: Record<string, string> | null;
  content: Buffer;
  blobIds: number[];
  childIds: number[];
}

/** Inserts the manifest with its references and raises the referenced rows' refcounts. */
export async function insertManifest(db: CommonQueryMethods, m: NewManifest): Promise<number> {
  const id = await db.oneFirst(sql.type(z.object({ id: z.number() }))`
    INSERT INTO manifests (repository_id, digest, digest_sha512, media_type, artifact_type, subject_digest, annotations, content)
    VALUES (${m.repositoryId}, ${m.digest}, ${m.digestSha512}, ${m.mediaType}, ${m.artifactType}, ${m.subject},
            ${m.annotations ? sql.jsonb(m.annotations) : null}, ${sql.binary(m.content)})
    RETURNING id`);
  if (m.blobIds.length > 0) {
    await db.query(sql.unsafe`
      INSERT INTO manifest_blobs (manifest_id, blob_id)
      SELECT ${id}, unnest(${sql.array(m.blobIds, 'int8')})`);
    await db.query(sql.unsafe`
      UPDATE repository_blobs SET refcount = refcount + 1
      WHERE repository_id = ${m.repositoryId} AND blob_id = ANY(${sql.array(m.blobIds, 'int8')})`);
  }
  if (m.childIds.length > 0) {
    await db.query(sql.unsafe`
      INSERT INTO manifest_children (parent_id, child_id)
      SELECT ${id}, unnest(${sql.array(m.childIds, 'int8')})`);
    await db.query(sql.unsafe`UPDATE manifests SET refcount = refcount + 1 WHERE id = ANY(${sql.array(m.childIds, 'int8')})`);
  }
  return id;
}

export async function countParents(db: CommonQueryMethods, manifestId: number): Promise<readonly string[]> {
  return db.anyFirst(sql.type(z.object({ digest: z.string() }))`
    SELECT p.digest FROM manifest_children c JOIN manifests p ON p.id = c.parent_id
    WHERE c.child_id = ${manifestId} ORDER BY p.digest LIMIT 5`);
}

/** Deletes the manifest (its tags must be gone) and lowers what it referenced. */
export async function deleteManifestRow(db: CommonQueryMethods, repositoryId: number, manifestId: number): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE repository_blobs SET refcount = refcount - 1
    WHERE repository_id = ${repositoryId}
      AND blob_id IN (SELECT blob_id FROM manifest_blobs WHERE manifest_id = ${manifestId})`);
  await db.query(sql.unsafe`
    UPDATE manifests SET refcount = refcount - 1
    WHERE id IN (SELECT child_id FROM manifest_children WHERE parent_id = ${manifestId})`);
  await db.query(sql.unsafe`DELETE FROM manifests WHERE id = ${manifestId}`);
}

const ReferrerRow = z.object({
  digest: z.string(),
  media_type: z.string(),
  size: z.number(),
  artifact_type: z.string().nullable(),
  annotations: z.record(z.string(), z.string()).nullable(),
});
export type ReferrerRow = z.infer<typeof ReferrerRow>;

/**
 * The manifests whose subject is any of `subjects` (the names of one content), each
 * reported by its name in `algorithm`, the algorithm the client asked with.
 */
export async function listReferrers(
  db: CommonQueryMethods,
  repositoryId: number,
  subjects: string[],
  opts: { algorithm: 'sha256' | 'sha512'; artifactType: string | null; last: string | null; limit: number },
): Promise<readonly ReferrerRow[]> {
  const name = opts.algorithm === 'sha512' ? sql.fragment`digest_sha512` : sql.fragment`digest`;
  return db.any(sql.type(ReferrerRow)`
    SELECT ${name} AS digest, media_type, length(content)::int8 AS size, artifact_type, annotations
    FROM manifests
    WHERE repository_id = ${repositoryId} AND subject_digest = ANY(${sql.array(subjects, 'text')})
      AND (${opts.artifactType}::text IS NULL OR artifact_type = ${opts.artifactType})
      AND (${opts.last}::text IS NULL OR ${name} > ${opts.last})
    ORDER BY ${name}
    LIMIT ${opts.limit}`);
}
