// Retention policies and immutable-tag rules (migrations/0006_retention.sql, 0010_last_pulled.sql).
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { ImmutableRule, RetentionPolicy } from '../shared/policies.ts';

const PolicyRow = z.object({
  id: z.number(),
  repository_glob: z.string(),
  keep_last: z.number().nullable(),
  keep_regex: z.string().nullable(),
  untagged_delay_seconds: z.number().nullable(),
  unpulled_delay_seconds: z.number().nullable(),
});

export async function listPolicies(db: CommonQueryMethods): Promise<RetentionPolicy[]> {
  const rows = await db.any(sql.type(PolicyRow)`
    SELECT id, repository_glob, keep_last, keep_regex, untagged_delay_seconds, unpulled_delay_seconds
    FROM retention_policies ORDER BY repository_glob`);
  return rows.map((r) => ({
    id: r.id,
    repositoryGlob: r.repository_glob,
    keepLast: r.keep_last,
    keepRegex: r.keep_regex,
    untaggedDelaySeconds: r.untagged_delay_seconds,
    unpulledDelaySeconds: r.unpulled_delay_seconds,
  }));
}

/** Creates the glob's policy, or replaces it: one policy per glob. */
export async function upsertPolicy(db: CommonQueryMethods, p: Omit<RetentionPolicy, 'id'>): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO retention_policies (repository_glob, keep_last, keep_regex, untagged_delay_seconds, unpulled_delay_seconds)
    VALUES (${p.repositoryGlob}, ${p.keepLast}, ${p.keepRegex}, ${p.untaggedDelaySeconds}, ${p.unpulledDelaySeconds})
    ON CONFLICT (repository_glob) DO UPDATE SET
      keep_last = EXCLUDED.keep_last, keep_regex = EXCLUDED.keep_regex,
      untagged_delay_seconds = EXCLUDED.untagged_delay_seconds, unpulled_delay_seconds = EXCLUDED.unpulled_delay_seconds`);
}

export async function removePolicy(db: CommonQueryMethods, glob: string): Promise<boolean> {
  const id = await db.maybeOneFirst(sql.type(z.object({ id: z.number() }))`
    DELETE FROM retention_policies WHERE repository_glob = ${glob} RETURNING id`);
  return id !== null;
}

const RuleRow = z.object({ id: z.number(), repository_glob: z.string(), tag_pattern: z.string() });

export async function listImmutableRules(db: CommonQueryMethods): Promise<ImmutableRule[]> {
  const rows = await db.any(sql.type(RuleRow)`
    SELECT id, repository_glob, tag_pattern FROM immutable_tags ORDER BY repository_glob, tag_pattern`);
  return rows.map((r) => ({ id: r.id, repositoryGlob: r.repository_glob, tagPattern: r.tag_pattern }));
}

/** Adds the rule; false when it already exists. */
export async function addImmutableRule(db: CommonQueryMethods, glob: string, pattern: string): Promise<boolean> {
  const id = await db.maybeOneFirst(sql.type(z.object({ id: z.number() }))`
    INSERT INTO immutable_tags (repository_glob, tag_pattern) VALUES (${glob}, ${pattern})
    ON CONFLICT DO NOTHING RETURNING id`);
  return id !== null;
}

export async function removeImmutableRule(db: CommonQueryMethods, glob: string, pattern: string): Promise<boolean> {
  const id = await db.maybeOneFirst(sql.type(z.object({ id: z.number() }))`
    DELETE FROM immutable_tags WHERE repository_glob = ${glob} AND tag_pattern = ${pattern} RETURNING id`);
  return id !== null;
}
