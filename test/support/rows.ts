// Direct reads of the database, so tests can assert which rows an operation left.
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';

export async function countRows(pool: DatabasePool, table: 'blobs' | 'repository_blobs' | 'manifests' | 'tags' | 'upload_sessions' | 'events' | 'repositories' | 'manifest_absent' | 'proxy_fetches'): Promise<number> {
  return pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int8 AS n FROM ${sql.identifier([table])}`);
}

export async function rowCounts(pool: DatabasePool) {
  const tables = ['blobs', 'repository_blobs', 'manifests', 'tags', 'upload_sessions', 'repositories'] as const;
  const out: Record<string, number> = {};
  for (const t of tables) out[t] = await countRows(pool, t);
  return out;
}

/**
 * Refcounts recomputed from the reference rows. Every stored refcount must equal
 * these; tests compare the two after each operation.
 */
export async function refcountDrift(pool: DatabasePool): Promise<readonly unknown[]> {
  return pool.any(sql.type(z.object({ what: z.string(), id: z.string(), stored: z.number(), actual: z.number() }))`
    SELECT 'blob' AS what, b.id::text AS id, b.refcount AS stored,
           (SELECT count(*) FROM repository_blobs rb WHERE rb.blob_id = b.id)::int8 AS actual
    FROM blobs b
    WHERE b.refcount <> (SELECT count(*) FROM repository_blobs rb WHERE rb.blob_id = b.id)
    UNION ALL
    SELECT 'link', rb.repository_id || '/' || rb.blob_id, rb.refcount,
           (SELECT count(*) FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
             WHERE mb.blob_id = rb.blob_id AND m.repository_id = rb.repository_id)::int8
    FROM repository_blobs rb
    WHERE rb.refcount <> (SELECT count(*) FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
             WHERE mb.blob_id = rb.blob_id AND m.repository_id = rb.repository_id)
    UNION ALL
    SELECT 'manifest', m.id::text, m.refcount,
           ((SELECT count(*) FROM tags t WHERE t.manifest_id = m.id)
            + (SELECT count(*) FROM manifest_children c WHERE c.child_id = m.id))::int8
    FROM manifests m
    WHERE m.refcount <> (SELECT count(*) FROM tags t WHERE t.manifest_id = m.id)
                      + (SELECT count(*) FROM manifest_children c WHERE c.child_id = m.id)
    UNION ALL
    -- a sparse manifest's absent reference to content the repository holds should have been linked
    SELECT 'absent', a.manifest_id || ' ' || a.digest, 0, 1 FROM manifest_absent a
    WHERE (a.kind = 'manifest' AND EXISTS (
            SELECT 1 FROM manifests m WHERE m.repository_id = a.repository_id
              AND (m.digest = a.digest OR m.digest_sha512 = a.digest) AND length(m.content) = a.size))
       OR (a.kind = 'blob' AND EXISTS (
            SELECT 1 FROM repository_blobs rb JOIN blobs b ON b.id = rb.blob_id
            WHERE rb.repository_id = a.repository_id AND b.size = a.size
              AND ('sha256:' || encode(b.sha256, 'hex') = a.digest OR 'sha512:' || encode(b.sha512, 'hex') = a.digest)))`);
}
