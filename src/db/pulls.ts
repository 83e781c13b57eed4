// When manifests were last pulled (migrations/0010_last_pulled.sql): the batched write
// of src/registry/content/pulls.ts.
import { sql, type CommonQueryMethods } from 'slonik';

export interface PullRecord {
  repository: string;
  /** the name the client pulled by: the sha256 or the sha512 digest */
  digest: string;
  /** milliseconds since the epoch */
  at: number;
}

/**
 * One statement for the whole batch. A pull of an index's child counts for every index of the
 * repository that lists it, so a client that resolved the index once and keeps pulling the child
 * by digest keeps the index's tag alive. Times only move forward.
 */
export async function recordPulls(db: CommonQueryMethods, pulls: readonly PullRecord[]): Promise<void> {
  if (pulls.length === 0) return;
  await db.query(sql.unsafe`
    WITH pulled AS (
      SELECT m.id, max(u.at) AS at
      FROM unnest(${sql.array(pulls.map((p) => p.repository), 'text')}::text[],
                  ${sql.array(pulls.map((p) => p.digest), 'text')}::text[],
                  ${sql.array(pulls.map((p) => p.at / 1000), 'float8')}::float8[]) AS u(repository, digest, at)
      JOIN repositories r ON r.name = u.repository
      JOIN manifests m ON m.repository_id = r.id AND u.digest IN (m.digest, m.digest_sha512)
      GROUP BY m.id),
    counted AS (
      SELECT id, at FROM pulled
      UNION ALL
      SELECT c.parent_id, p.at FROM pulled p JOIN manifest_children c ON c.child_id = p.id),
    -- rows locked in id order, as every writer of manifests locks them: no deadlock with a push or a retention pass
    locked AS (
      SELECT m.id FROM manifests m WHERE m.id IN (SELECT id FROM counted) ORDER BY m.id FOR UPDATE)
    UPDATE manifests m SET last_pulled_at = greatest(m.last_pulled_at, to_timestamp(c.at))
    FROM (SELECT id, max(at) AS at FROM counted GROUP BY id) c
    WHERE m.id = c.id AND m.id IN (SELECT id FROM locked)`);
}
