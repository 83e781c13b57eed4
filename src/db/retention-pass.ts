// The queries of a retention pass: what a policy would delete, and the locked,
// rechecked deletes. Lock order is the API's (docs/architecture.md, "The lock
// order"): the repository row, tags (by name), manifests (by id), repository_blobs
// (by blob id).
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

const LOCK_KEY = 0x72657465; // "rete": one pass at a time across replicas

/** Takes the session lock of a retention pass on this connection; false when another process holds it. */
export async function tryLockRetentionPass(conn: CommonQueryMethods): Promise<boolean> {
  return conn.oneFirst(sql.type(z.object({ ok: z.boolean() }))`SELECT pg_try_advisory_lock(${LOCK_KEY}) AS ok`);
}

export async function unlockRetentionPass(conn: CommonQueryMethods): Promise<void> {
  await conn.query(sql.unsafe`SELECT pg_advisory_unlock(${LOCK_KEY})`);
}

const RepoRow = z.object({ id: z.number(), name: z.string() });

/**
 * The repositories some glob matches, by name. Each glob reads only the index range
 * of its literal prefix, so a policy on a few repositories costs the same in a
 * registry of 100 000 (bench/growth.ts measured 0.2–0.6 s when every name was read).
 */
export async function listRepositoriesMatching(db: CommonQueryMethods, globs: ReadonlyArray<{ prefix: string; regex: string }>) {
  return db.any(sql.type(RepoRow)`
    SELECT DISTINCT r.id, r.name
    FROM unnest(${sql.array(globs.map((g) => g.prefix), 'text')}, ${sql.array(globs.map((g) => g.regex), 'text')}) AS g(prefix, regex)
    JOIN repositories r ON r.name >= g.prefix COLLATE "C" AND r.name < (g.prefix || chr(1114111)) COLLATE "C" AND r.name ~ g.regex
    ORDER BY r.name`);
}

const TagRow = z.object({ name: z.string(), manifest_id: z.number(), digest: z.string(), stamp: z.string() });
export type TagRow = z.infer<typeof TagRow>;

/**
 * The repository's tags no rule of the two keeps (a null rule keeps none): beyond the `keepLast` most
 * recently pushed (ties: by name), and neither pushed nor pulled (their manifest) for `unpulledSeconds`.
 * Newest push first.
 */
export async function tagCandidates(
  db: CommonQueryMethods,
  repositoryId: number,
  rules: { keepLast: number | null; unpulledSeconds: number | null },
): Promise<readonly TagRow[]> {
  return db.any(sql.type(TagRow)`
    SELECT name, manifest_id, digest, stamp FROM (
      SELECT t.name, t.manifest_id, m.digest, t.updated_at, t.updated_at::text AS stamp,
             row_number() OVER (ORDER BY t.updated_at DESC, t.name) AS rank,
             greatest(t.updated_at, m.last_pulled_at) AS last_used
      FROM tags t JOIN manifests m ON m.id = t.manifest_id
      WHERE t.repository_id = ${repositoryId}) x
    WHERE (${rules.keepLast}::int IS NULL OR rank > ${rules.keepLast}::int)
      AND (${rules.unpulledSeconds}::bigint IS NULL OR last_used <= now() - ${rules.unpulledSeconds}::bigint * interval '1 second')
    ORDER BY updated_at DESC, name`);
}

const ManifestRef = z.object({ id: z.number(), digest: z.string() });

/**
 * Manifests nothing references (no tag, no index) for at least `delaySeconds`,
 * except referrers whose subject is in the repository. `only`: restrict to these ids.
 */
export async function untaggedManifests(db: CommonQueryMethods, repositoryId: number, delaySeconds: number, only: number[] | null = null) {
  return db.any(sql.type(ManifestRef)`
    SELECT m.id, m.digest FROM manifests m
    WHERE m.repository_id = ${repositoryId} AND m.refcount = 0
      AND m.unreferenced_since <= now() - ${delaySeconds} * interval '1 second'
      AND (${only === null} OR m.id = ANY(${sql.array(only ?? [], 'int8')}))
      AND NOT EXISTS (SELECT 1 FROM manifests s
                      WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest)
    ORDER BY m.id`);
}

/**
 * Manifests neither pushed nor pulled for `delaySeconds` that nothing references once the tags in
 * `goingTags` are gone (no other tag, no index), except referrers whose subject is in the repository.
 */
export async function unpulledManifests(db: CommonQueryMethods, repositoryId: number, delaySeconds: number, goingTags: string[], only: number[] | null = null) {
  return db.any(sql.type(ManifestRef)`
    SELECT m.id, m.digest FROM manifests m
    WHERE m.repository_id = ${repositoryId}
      AND greatest(m.created_at, m.last_pulled_at) <= now() - ${delaySeconds} * interval '1 second'
      AND m.refcount = (SELECT count(*) FROM tags t WHERE t.repository_id = m.repository_id AND t.manifest_id = m.id
                                                      AND t.name = ANY(${sql.array(goingTags, 'text')}))
      AND (${only === null} OR m.id = ANY(${sql.array(only ?? [], 'int8')}))
      AND NOT EXISTS (SELECT 1 FROM manifests s
                      WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest)
    ORDER BY m.id`);
}

/** Locks the tags (by name); `idle`: seconds since the tag was pushed or its manifest pulled. */
export async function lockTags(db: CommonQueryMethods, repositoryId: number, names: string[]) {
  return db.any(sql.type(z.object({ name: z.string(), manifest_id: z.number(), stamp: z.string(), idle: z.number() }))`
    SELECT name, manifest_id, updated_at::text AS stamp,
           extract(epoch FROM now() - greatest(updated_at, (SELECT last_pulled_at FROM manifests m WHERE m.id = t.manifest_id)))::float8 AS idle
    FROM tags t
    WHERE repository_id = ${repositoryId} AND name = ANY(${sql.array(names, 'text')})
    ORDER BY name FOR UPDATE`);
}

/** Locks the manifests, their children and their blob links, each in id order. */
export async function lockManifestsAndLinks(db: CommonQueryMethods, repositoryId: number, ids: number[], deleting: number[]): Promise<void> {
  const children = await db.anyFirst(sql.type(z.object({ child_id: z.number() }))`
    SELECT child_id FROM manifest_children WHERE parent_id = ANY(${sql.array(deleting, 'int8')})`);
  const all = [...new Set([...ids, ...children])];
  await db.query(sql.unsafe`
    SELECT id FROM manifests WHERE id = ANY(${sql.array(all, 'int8')}) ORDER BY id FOR UPDATE`);
  await db.query(sql.unsafe`
    SELECT blob_id FROM repository_blobs
    WHERE repository_id = ${repositoryId}
      AND blob_id IN (SELECT blob_id FROM manifest_blobs WHERE manifest_id = ANY(${sql.array(deleting, 'int8')}))
    ORDER BY blob_id FOR UPDATE`);
}

/** Deletes the (locked) tags and lowers the refcounts of the manifests they named. */
export async function deleteTagRows(db: CommonQueryMethods, repositoryId: number, names: string[]): Promise<void> {
  if (names.length === 0) return;
  await db.query(sql.unsafe`
    WITH gone AS (
      DELETE FROM tags WHERE repository_id = ${repositoryId} AND name = ANY(${sql.array(names, 'text')})
      RETURNING manifest_id)
    UPDATE manifests m SET refcount = m.refcount - g.n
    FROM (SELECT manifest_id, count(*) AS n FROM gone GROUP BY manifest_id) g
    WHERE m.id = g.manifest_id`);
}
