// When manifests were last pulled (migrations/0010_last_pulled.sql): the batched write
// of src/registry/content/pulls.ts.
import { sql, type CommonQueryMethods } from 'slonik';

export interface PullRecord {
  /** the manifest row's id: a deleted manifest's id is never reused, so a late record of it updates nothing */
  id: number;
  /** milliseconds since the epoch */
  at: number;
}

/**
 * One statement for the whole batch, in time proportional to the batch whatever the registry's
 * size: every row is found by its primary key. A pull of an index's child counts for every index of
 * the repository that lists it, so a client that resolved the index once and keeps pulling the child
 * by digest keeps the index's tag alive. Times only move forward, and a row whose time would not
 * move is neither locked nor written.
 */
export async function recordPulls(db: CommonQueryMethods, pulls: readonly PullRecord[]): Promise<void> {
  if (pulls.length === 0) return;
  await db.query(sql.unsafe`
    WITH pulled AS (
      SELECT u.id, u.at FROM unnest(${sql.array(pulls.map((p) => p.id), 'int8')}::int8[],
                                    ${sql.array(pulls.map((p) => p.at / 1000), 'float8')}::float8[]) AS u(id, at)),
    counted AS (
      SELECT id, max(at) AS at FROM (
        SELECT id, at FROM pulled
        UNION ALL
        SELECT c.parent_id, p.at FROM pulled p JOIN manifest_children c ON c.child_id = p.id) x
      GROUP BY id),
    -- rows locked in id order, as every writer of manifests locks them: no deadlock with a push or a retention pass
    locked AS (
      SELECT m.id, to_timestamp(c.at) AS at FROM counted c JOIN manifests m ON m.id = c.id
      WHERE m.last_pulled_at IS NULL OR m.last_pulled_at < to_timestamp(c.at)
      ORDER BY m.id FOR UPDATE OF m)
    UPDATE manifests m SET last_pulled_at = greatest(m.last_pulled_at, l.at)
    FROM locked l
    WHERE m.id = l.id`);
}
