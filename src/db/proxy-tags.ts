// When each cached tag of a proxied repository was last confirmed upstream
// (migrations/0009_proxy_fetches.sql): shared by every replica, kept across restarts.
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

/** Milliseconds since the tag was last confirmed, by the database's clock (one clock for all replicas); null when never. */
export async function tagConfirmedAgo(db: CommonQueryMethods, repository: string, tag: string): Promise<number | null> {
  return db.maybeOneFirst(sql.type(z.object({ ago: z.number() }))`
    SELECT (extract(epoch FROM now() - p.confirmed_at) * 1000)::float8 AS ago
    FROM proxy_tags p JOIN repositories r ON r.id = p.repository_id
    WHERE r.name = ${repository} AND p.tag = ${tag}`);
}

/** Whether the tag was confirmed at or after `since` (a timestamptz as PostgreSQL wrote it). */
export async function tagConfirmedSince(db: CommonQueryMethods, repository: string, tag: string, since: string): Promise<boolean> {
  return db.exists(sql.type(z.object({ exists: z.boolean() }))`
    SELECT 1 FROM proxy_tags p JOIN repositories r ON r.id = p.repository_id
    WHERE r.name = ${repository} AND p.tag = ${tag} AND p.confirmed_at >= ${since}::timestamptz`);
}

/** Records that the upstream confirmed the tag now (the repository exists: its manifest is cached). */
export async function confirmTagRow(db: CommonQueryMethods, repository: string, tag: string): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO proxy_tags (repository_id, tag, confirmed_at)
    SELECT r.id, ${tag}, now() FROM repositories r WHERE r.name = ${repository}
    ON CONFLICT (repository_id, tag) DO UPDATE SET confirmed_at = EXCLUDED.confirmed_at`);
}
