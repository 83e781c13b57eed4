import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { RepoName } from '../shared/names.ts';

const IdRow = z.object({ id: z.number() });

/** The repository's id, creating the row on first use. */
export async function ensureRepository(db: CommonQueryMethods, name: RepoName): Promise<number> {
  const existing = await findRepository(db, name);
  if (existing !== null) return existing;
  return db.oneFirst(sql.type(IdRow)`
    INSERT INTO repositories (name) VALUES (${name})
    ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
    RETURNING id`);
}

export async function findRepository(db: CommonQueryMethods, name: RepoName): Promise<number | null> {
  return db.maybeOneFirst(sql.type(IdRow)`SELECT id FROM repositories WHERE name = ${name}`);
}

/** Repositories holding at least one manifest (migrations/0011_repositories_listed.sql), in lexical order after `last`; `visible`: names matching one of these regexes only. */
export async function listRepositories(
  db: CommonQueryMethods,
  last: string | null,
  limit: number,
  visible: readonly string[] | null = null,
): Promise<readonly string[]> {
  const filter = visible === null ? sql.fragment`TRUE` : sql.fragment`r.name ~ ANY(${sql.array(visible, 'text')})`;
  return db.anyFirst(sql.type(z.object({ name: z.string() }))`
    SELECT r.name FROM repositories r
    WHERE r.has_manifests
      AND (${last}::text IS NULL OR r.name > ${last})
      AND ${filter}
    ORDER BY r.name
    LIMIT ${limit}`);
}

/**
 * Every change to a repository's manifests or tags takes this lock first, which
 * serialises them per repository (docs/architecture.md, "The lock order").
 */
export async function lockRepositoryForWrite(db: CommonQueryMethods, repositoryId: number): Promise<void> {
  await db.query(sql.unsafe`SELECT id FROM repositories WHERE id = ${repositoryId} FOR NO KEY UPDATE`);
}

/** lockRepositoryForWrite by name, creating the row on first use; one statement when it exists. */
export async function lockRepositoryByName(db: CommonQueryMethods, name: RepoName): Promise<number> {
  const id = await db.maybeOneFirst(sql.type(IdRow)`SELECT id FROM repositories WHERE name = ${name} FOR NO KEY UPDATE`);
  if (id !== null) return id;
  const created = await ensureRepository(db, name);
  await lockRepositoryForWrite(db, created);
  return created;
}
