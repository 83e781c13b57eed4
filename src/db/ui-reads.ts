// Read-only queries of the web UI (src/http/ui-api.ts through registry/ui/):
// repository summaries, tags with their manifests, referrers, storage totals.
// Nothing here locks or writes; every list is bounded by a LIMIT.
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

const Summary = z.object({
  name: z.string(),
  tag_count: z.number(),
  last_push: z.string().nullable(),
  size: z.number(),
});
export type RepositorySummary = z.infer<typeof Summary>;

/** `%` and `_` are LIKE's wildcards: a search for them means the characters themselves. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * A page of repositories holding a manifest, in name order after `last`, whose
 * name contains `search`; `visible`: names matching one of these regexes only.
 * The aggregates run per row of the page only, so a page costs the same at 100 000 repositories.
 */
export async function repositorySummaries(
  db: CommonQueryMethods,
  q: { search: string; last: string | null; limit: number; visible: readonly string[] | null },
): Promise<readonly RepositorySummary[]> {
  const filter = q.visible === null ? sql.fragment`TRUE` : sql.fragment`r.name ~ ANY(${sql.array(q.visible, 'text')})`;
  const search = q.search === '' ? sql.fragment`TRUE` : sql.fragment`r.name LIKE ${likePattern(q.search)}`;
  return db.any(sql.type(Summary)`
    SELECT r.name,
      (SELECT count(*) FROM tags t WHERE t.repository_id = r.id)::int8 AS tag_count,
      to_char(greatest(
        (SELECT max(t.updated_at) FROM tags t WHERE t.repository_id = r.id),
        (SELECT max(m.created_at) FROM manifests m WHERE m.repository_id = r.id)
      ) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_push,
      coalesce((SELECT sum(b.size) FROM repository_blobs rb JOIN blobs b ON b.id = rb.blob_id
                WHERE rb.repository_id = r.id AND rb.refcount > 0), 0)::int8
        + coalesce((SELECT sum(length(m.content)) FROM manifests m WHERE m.repository_id = r.id), 0)::int8 AS size
    FROM repositories r
    WHERE (${q.last}::text IS NULL OR r.name > ${q.last})
      AND ${filter} AND ${search}
      AND EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id)
    ORDER BY r.name
    LIMIT ${q.limit}`);
}

const TagRow = z.object({
  tag: z.string(),
  digest: z.string(),
  media_type: z.string(),
  pushed_at: z.string(),
  /** the manifest's own bytes and the distinct blobs it and its children reference */
  size: z.number(),
  /** an index's content, for its platforms; null for other manifests */
  index_content: z.instanceof(Buffer).nullable(),
});
export type TagRow = z.infer<typeof TagRow>;

/** The repository's tags (at most `limit`), with the manifest each names. */
export async function tagsOf(db: CommonQueryMethods, repositoryId: number, limit: number): Promise<readonly TagRow[]> {
  return db.any(sql.type(TagRow)`
    SELECT t.name AS tag, m.digest, m.media_type,
      to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS pushed_at,
      (length(m.content) + coalesce((
        SELECT sum(b.size) FROM blobs b WHERE b.id IN (
          SELECT mb.blob_id FROM manifest_blobs mb WHERE mb.manifest_id = m.id
          UNION SELECT mb.blob_id FROM manifest_children mc JOIN manifest_blobs mb ON mb.manifest_id = mc.child_id
                WHERE mc.parent_id = m.id)), 0)
        + coalesce((SELECT sum(length(c.content)) FROM manifest_children mc JOIN manifests c ON c.id = mc.child_id
                    WHERE mc.parent_id = m.id), 0))::int8 AS size,
      CASE WHEN EXISTS (SELECT 1 FROM manifest_children mc WHERE mc.parent_id = m.id)
                OR m.media_type LIKE '%index%' OR m.media_type LIKE '%manifest.list%'
           THEN m.content END AS index_content
    FROM tags t JOIN manifests m ON m.id = t.manifest_id
    WHERE t.repository_id = ${repositoryId}
    ORDER BY t.name
    LIMIT ${limit}`);
}

const ManifestDetailRow = z.object({
  id: z.number(),
  digest: z.string(),
  media_type: z.string(),
  content: z.instanceof(Buffer),
  created_at: z.string(),
});

export async function manifestOf(db: CommonQueryMethods, repositoryId: number, digest: string) {
  return db.maybeOne(sql.type(ManifestDetailRow)`
    SELECT id, digest, media_type, content,
      to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at
    FROM manifests WHERE repository_id = ${repositoryId} AND digest = ${digest}`);
}

export async function tagsOfManifest(db: CommonQueryMethods, manifestId: number): Promise<readonly string[]> {
  return db.anyFirst(sql.type(z.object({ name: z.string() }))`
    SELECT name FROM tags WHERE manifest_id = ${manifestId} ORDER BY name LIMIT 1000`);
}

const ReferrerRow = z.object({
  digest: z.string(),
  media_type: z.string(),
  artifact_type: z.string().nullable(),
  size: z.number(),
  created_at: z.string(),
});

/** The manifests whose subject is this digest, in the repository (at most `limit`). */
export async function referrersOf(db: CommonQueryMethods, repositoryId: number, subject: string, limit: number) {
  return db.any(sql.type(ReferrerRow)`
    SELECT digest, media_type, artifact_type, length(content)::int8 AS size,
      to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at
    FROM manifests WHERE repository_id = ${repositoryId} AND subject_digest = ${subject}
    ORDER BY digest LIMIT ${limit}`);
}

const Totals = z.object({
  blobs: z.number(),
  stored_bytes: z.number(),
  referenced_bytes: z.number(),
  manifests: z.number(),
  manifest_bytes: z.number(),
  repositories: z.number(),
  gc_blobs: z.number(),
  gc_links: z.number(),
  gc_manifests: z.number(),
});
export type StorageTotals = z.infer<typeof Totals>;

/**
 * Bytes stored (each blob once: storage is global and content-addressed) against
 * bytes referenced (each repository's links counted apart: what a registry without
 * global dedupe would store), and what garbage collection has left to review.
 */
export async function storageTotals(db: CommonQueryMethods): Promise<StorageTotals> {
  return db.one(sql.type(Totals)`
    SELECT
      (SELECT count(*) FROM blobs)::int8 AS blobs,
      (SELECT coalesce(sum(size), 0) FROM blobs)::int8 AS stored_bytes,
      (SELECT coalesce(sum(b.size), 0) FROM repository_blobs rb JOIN blobs b ON b.id = rb.blob_id WHERE rb.refcount > 0)::int8 AS referenced_bytes,
      (SELECT count(*) FROM manifests)::int8 AS manifests,
      (SELECT coalesce(sum(length(content)), 0) FROM manifests)::int8 AS manifest_bytes,
      (SELECT count(*) FROM repositories)::int8 AS repositories,
      (SELECT count(*) FROM gc_blob_reviews)::int8 AS gc_blobs,
      (SELECT count(*) FROM gc_link_reviews)::int8 AS gc_links,
      (SELECT count(*) FROM gc_manifest_reviews)::int8 AS gc_manifests`);
}

const RecentEvent = z.object({
  id: z.number(),
  kind: z.string(),
  digest: z.string().nullable(),
  tag: z.string().nullable(),
  actor: z.string().nullable(),
  time: z.string(),
});
export type RecentEvent = z.infer<typeof RecentEvent>;

/** The repository's newest events, newest first, before event id `before` when given. */
export async function recentEvents(db: CommonQueryMethods, repository: string, before: number | null, limit: number): Promise<readonly RecentEvent[]> {
  return db.any(sql.type(RecentEvent)`
    SELECT id, kind, digest, tag, actor,
      to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS time
    FROM events WHERE repository = ${repository} AND (${before}::int8 IS NULL OR id < ${before})
    ORDER BY id DESC LIMIT ${limit}`);
}
