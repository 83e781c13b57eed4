import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

/**
 * Points the tag at the manifest, named in `algorithm` (the algorithm it answers in); true
 * when the tag changed (created, moved, or now answering in another algorithm). The
 * manifests' refcount changes are added to `refcounts` (manifest id → delta), which the
 * caller applies before its commit with addToRefcounts: a batch of tag pushes then updates
 * a manifest's row once. Safe beside other tag pushes of the same repository: a tag
 * created concurrently is found and moved rather than inserted twice.
 */
export async function setTag(
  db: CommonQueryMethods,
  repositoryId: number,
  tag: string,
  manifestId: number,
  algorithm: 'sha256' | 'sha512',
  refcounts: Map<number, number>,
): Promise<boolean> {
  const bump = (id: number, by: number) => refcounts.set(id, (refcounts.get(id) ?? 0) + by);
  // a new tag, the common case of a push, takes one statement
  const created = await db.maybeOneFirst(sql.type(z.object({ manifest_id: z.number() }))`
    INSERT INTO tags (repository_id, name, manifest_id, algorithm) VALUES (${repositoryId}, ${tag}, ${manifestId}, ${algorithm})
    ON CONFLICT (repository_id, name) DO NOTHING
    RETURNING manifest_id`);
  if (created !== null) {
    bump(manifestId, 1);
    return true;
  }
  const old = await lockTag(db, repositoryId, tag);
  if (old === null) return false;
  const updated = await db.query(sql.unsafe`
    UPDATE tags SET manifest_id = ${manifestId}, algorithm = ${algorithm}, updated_at = now()
    WHERE repository_id = ${repositoryId} AND name = ${tag} AND (manifest_id <> ${manifestId} OR algorithm <> ${algorithm})`);
  if (old === manifestId) return updated.rowCount > 0;
  bump(manifestId, 1);
  bump(old, -1);
  return true;
}

/**
 * Inserts those of the tags (distinct names) the repository lacks, in one statement, adding
 * their refcounts to `refcounts` as setTag does; returns the names it inserted.
 */
export async function insertNewTags(
  db: CommonQueryMethods,
  repositoryId: number,
  tags: ReadonlyArray<{ tag: string; manifestId: number; algorithm: 'sha256' | 'sha512' }>,
  refcounts: Map<number, number>,
): Promise<Set<string>> {
  const rows = await db.any(sql.type(z.object({ name: z.string(), manifest_id: z.number() }))`
    INSERT INTO tags (repository_id, name, manifest_id, algorithm)
    SELECT ${repositoryId}, t.name, t.manifest_id, t.algorithm
    FROM unnest(${sql.array(tags.map((t) => t.tag), 'text')}, ${sql.array(tags.map((t) => t.manifestId), 'int8')},
                ${sql.array(tags.map((t) => t.algorithm), 'text')}) AS t(name, manifest_id, algorithm)
    ON CONFLICT (repository_id, name) DO NOTHING
    RETURNING name, manifest_id`);
  for (const r of rows) refcounts.set(r.manifest_id, (refcounts.get(r.manifest_id) ?? 0) + 1);
  return new Set(rows.map((r) => r.name));
}

/** Applies refcount deltas (manifest id → delta) in id order, the lock order of manifests. */
export async function addToRefcounts(db: CommonQueryMethods, refcounts: ReadonlyMap<number, number>): Promise<void> {
  for (const [id, delta] of [...refcounts].sort(([a], [b]) => a - b)) {
    if (delta !== 0) await db.query(sql.unsafe`UPDATE manifests SET refcount = refcount + ${delta} WHERE id = ${id}`);
  }
}

/** Locks the tag's row (FOR UPDATE); returns the manifest id it names, or null when there is no such tag. */
export async function lockTag(db: CommonQueryMethods, repositoryId: number, tag: string): Promise<number | null> {
  return db.maybeOneFirst(sql.type(z.object({ manifest_id: z.number() }))`
    SELECT manifest_id FROM tags WHERE repository_id = ${repositoryId} AND name = ${tag} FOR UPDATE`);
}

/** Locks the rows of every tag naming the manifest (FOR UPDATE); returns their names in order. */
export async function lockTagsOf(db: CommonQueryMethods, manifestId: number): Promise<readonly string[]> {
  return db.anyFirst(sql.type(z.object({ name: z.string() }))`
    SELECT name FROM tags WHERE manifest_id = ${manifestId} ORDER BY name FOR UPDATE`);
}

/** Advisory lock class of tag creation (the two-key space, apart from single-key locks). */
const CREATE_LOCK_CLASS = 0x696d6d75; // "immu"

/**
 * Serialises the creation of one tag name until the transaction ends. Two pushes creating
 * the same new tag find no row to lock; this lock lets the second see the first's tag.
 */
export async function lockTagCreation(db: CommonQueryMethods, repositoryId: number, tag: string): Promise<void> {
  await db.query(sql.unsafe`SELECT pg_advisory_xact_lock(${CREATE_LOCK_CLASS}, hashtext(${`${repositoryId}/${tag}`}))`);
}

/** Removes the tag; returns the manifest id it named, or null when there was no such tag. */
export async function deleteTag(db: CommonQueryMethods, repositoryId: number, tag: string): Promise<number | null> {
  const old = await db.maybeOneFirst(sql.type(z.object({ manifest_id: z.number() }))`
    DELETE FROM tags WHERE repository_id = ${repositoryId} AND name = ${tag} RETURNING manifest_id`);
  if (old !== null) await db.query(sql.unsafe`UPDATE manifests SET refcount = refcount - 1 WHERE id = ${old}`);
  return old;
}

/** Removes every tag naming the manifest; returns their names. */
export async function deleteTagsOf(db: CommonQueryMethods, manifestId: number): Promise<readonly string[]> {
  const names = await db.anyFirst(sql.type(z.object({ name: z.string() }))`
    DELETE FROM tags WHERE manifest_id = ${manifestId} RETURNING name`);
  if (names.length > 0) {
    await db.query(sql.unsafe`UPDATE manifests SET refcount = refcount - ${names.length} WHERE id = ${manifestId}`);
  }
  return names;
}

export async function listTags(db: CommonQueryMethods, repositoryId: number, last: string | null, limit: number): Promise<readonly string[]> {
  return db.anyFirst(sql.type(z.object({ name: z.string() }))`
    SELECT name FROM tags
    WHERE repository_id = ${repositoryId} AND (${last}::text IS NULL OR name > ${last})
    ORDER BY name
    LIMIT ${limit}`);
}
