// Applies the numbered SQL files in migrations/ that have not run yet, in order,
// each in its own transaction, under an advisory lock so concurrent replicas
// starting together apply each file once.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { splitSqlStatements } from './sql-split.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
const LOCK_KEY = 0x626f6c6c; // "boll"

export async function migrate(pool: DatabasePool, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  await pool.connect(async (conn) => {
    await conn.query(sql.unsafe`SELECT pg_advisory_lock(${LOCK_KEY})`);
    try {
      await conn.query(sql.unsafe`
        CREATE TABLE IF NOT EXISTS schema_migrations (
          name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = new Set(
        await conn.anyFirst(sql.type(z.object({ name: z.string() }))`SELECT name FROM schema_migrations`),
      );
      for (const file of files) {
        if (done.has(file)) continue;
        const text = await readFile(join(dir, file), 'utf8');
        await conn.transaction(async (tx) => {
          for (const statement of splitSqlStatements(text)) await tx.query(sql.unsafe(rawSql(statement)));
          await tx.query(sql.unsafe`INSERT INTO schema_migrations (name) VALUES (${file})`);
        });
        applied.push(file);
      }
    } finally {
      await conn.query(sql.unsafe`SELECT pg_advisory_unlock(${LOCK_KEY})`);
    }
  });
  return applied;
}

/** A migration file is trusted SQL text; slonik accepts it only as a template, so make one. */
function rawSql(text: string): TemplateStringsArray {
  return Object.freeze(Object.assign([text], { raw: Object.freeze([text]) })) as unknown as TemplateStringsArray;
}
