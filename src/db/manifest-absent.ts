// References of sparse manifests to content the repository does not hold yet
// (docs/architecture.md, "Sparse manifests"). When that content arrives, the
// reference becomes a real one: a manifest_blobs or manifest_children row with
// its refcount, exactly as if it had been there at the manifest's push.
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

export interface AbsentRef {
  digest: string;
  size: number;
  kind: 'blob' | 'manifest';
}

export async function insertAbsent(db: CommonQueryMethods, repositoryId: number, manifestId: number, refs: AbsentRef[]): Promise<void> {
  for (const r of refs) {
    await db.query(sql.unsafe`
      INSERT INTO manifest_absent (manifest_id, repository_id, digest, size, kind)
      VALUES (${manifestId}, ${repositoryId}, ${r.digest}, ${r.size}, ${r.kind})
      ON CONFLICT DO NOTHING`);
  }
}

const Waiting = z.object({ manifest_id: z.number(), digest: z.string(), size: z.number() });

/** The manifests waiting for this content (of the given kind), their rows locked in id order. */
async function lockWaiting(db: CommonQueryMethods, repositoryId: number, kind: AbsentRef['kind'], names: string[]) {
  return db.any(sql.type(Waiting)`
    SELECT a.manifest_id, a.digest, a.size FROM manifest_absent a JOIN manifests m ON m.id = a.manifest_id
    WHERE a.repository_id = ${repositoryId} AND a.kind = ${kind} AND a.digest = ANY(${sql.array(names, 'text')})
    ORDER BY a.manifest_id FOR UPDATE OF m, a`);
}

/**
 * Turns the absent references to a blob now linked in the repository into real ones.
 * A reference whose declared size differs stays absent: pulling through it would fail.
 * The caller holds the repository row (lock order 1) and, after this, the link.
 */
export async function attachBlob(db: CommonQueryMethods, repositoryId: number, blob: { id: number; size: number; names: string[] }): Promise<void> {
  const waiting = (await lockWaiting(db, repositoryId, 'blob', blob.names)).filter((w) => w.size === blob.size);
  const ids = [...new Set(waiting.map((w) => w.manifest_id))];
  if (ids.length === 0) return;
  await db.query(sql.unsafe`
    DELETE FROM manifest_absent WHERE manifest_id = ANY(${sql.array(ids, 'int8')}) AND digest = ANY(${sql.array(blob.names, 'text')})`);
  const added = await db.anyFirst(sql.type(z.object({ manifest_id: z.number() }))`
    INSERT INTO manifest_blobs (manifest_id, blob_id) SELECT unnest(${sql.array(ids, 'int8')}), ${blob.id}
    ON CONFLICT DO NOTHING RETURNING manifest_id`);
  await db.query(sql.unsafe`
    UPDATE repository_blobs SET refcount = refcount + ${added.length}
    WHERE repository_id = ${repositoryId} AND blob_id = ${blob.id}`);
}

/** Turns the absent references to a manifest just pushed into index edges, raising its refcount. */
export async function attachManifest(db: CommonQueryMethods, repositoryId: number, child: { id: number; size: number; names: string[] }): Promise<void> {
  const waiting = (await lockWaiting(db, repositoryId, 'manifest', child.names)).filter((w) => w.size === child.size);
  const ids = [...new Set(waiting.map((w) => w.manifest_id))].filter((id) => id !== child.id);
  if (ids.length === 0) return;
  await db.query(sql.unsafe`
    DELETE FROM manifest_absent WHERE manifest_id = ANY(${sql.array(ids, 'int8')}) AND digest = ANY(${sql.array(child.names, 'text')})`);
  const added = await db.anyFirst(sql.type(z.object({ parent_id: z.number() }))`
    INSERT INTO manifest_children (parent_id, child_id) SELECT unnest(${sql.array(ids, 'int8')}), ${child.id}
    ON CONFLICT DO NOTHING RETURNING parent_id`);
  await db.query(sql.unsafe`UPDATE manifests SET refcount = refcount + ${added.length} WHERE id = ${child.id}`);
}

/**
 * The names of a blob (the one pushed, and those its row already has) that absent references
 * of the repository wait for; empty in the common case. One round trip, before the commit locks.
 */
export async function absentNamesOfBlob(db: CommonQueryMethods, repositoryId: number, pushed: string, blake3: Buffer): Promise<string[]> {
  const b3 = sql.binary(blake3);
  const rows = await db.anyFirst(sql.type(z.object({ digest: z.string() }))`
    SELECT DISTINCT a.digest FROM manifest_absent a
    WHERE a.repository_id = ${repositoryId} AND a.kind = 'blob' AND a.digest IN (
      SELECT ${pushed}::text
      UNION ALL SELECT 'sha256:' || encode(sha256, 'hex') FROM blobs WHERE blake3 = ${b3} AND sha256 IS NOT NULL
      UNION ALL SELECT 'sha512:' || encode(sha512, 'hex') FROM blobs WHERE blake3 = ${b3} AND sha512 IS NOT NULL)`);
  return [...rows];
}
