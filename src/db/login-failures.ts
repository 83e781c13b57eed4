// Failed-login counters (migrations/0004): one row per key in a fixed window.
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

const Blocked = z.object({ key: z.string(), retry_after: z.number() });

/**
 * Of the given keys with their limits, the ones at or over their limit in the
 * current window, with the seconds until that window ends. One read, no write.
 */
export async function blockedKeys(
  db: CommonQueryMethods,
  keys: ReadonlyArray<{ key: string; limit: number }>,
  windowSeconds: number,
): Promise<ReadonlyArray<z.infer<typeof Blocked>>> {
  return db.any(sql.type(Blocked)`
    SELECT f.key, ceil(extract(epoch FROM f.window_start + make_interval(secs => ${windowSeconds}) - now()))::int AS retry_after
    FROM login_failures f
    JOIN unnest(${sql.array(keys.map((k) => k.key), 'text')}, ${sql.array(keys.map((k) => k.limit), 'int4')}) AS k(key, lim) ON k.key = f.key
    WHERE f.window_start > now() - make_interval(secs => ${windowSeconds}) AND f.failures >= k.lim`);
}

/** Counts one failure for each key, opening a new window where the old one ended. */
export async function recordFailures(db: CommonQueryMethods, keys: readonly string[], windowSeconds: number): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO login_failures (key, window_start, failures)
    SELECT unnest(${sql.array(keys, 'text')}), now(), 1
    ON CONFLICT (key) DO UPDATE SET
      window_start = CASE WHEN login_failures.window_start <= now() - make_interval(secs => ${windowSeconds})
                          THEN now() ELSE login_failures.window_start END,
      failures = CASE WHEN login_failures.window_start <= now() - make_interval(secs => ${windowSeconds})
                      THEN 1 ELSE login_failures.failures + 1 END`);
}

/** Drops counters whose window ended long ago (called now and then by failures). */
export async function pruneFailures(db: CommonQueryMethods, windowSeconds: number): Promise<void> {
  await db.query(sql.unsafe`DELETE FROM login_failures WHERE window_start < now() - make_interval(secs => ${windowSeconds * 2})`);
}
