// What `npm run bench:growth` reads from the database: the refcount recount that
// proves the seeding exact, random targets for the requests, and the sizes.
import type pg from 'pg';
import { BIG, REPOS, repoName, tagName } from './growth-seed.ts';

/** Rows whose stored refcount differs from a recount of what references them (all zero when exact). */
export async function refcountMismatches(db: pg.Client): Promise<{ blobs: number; links: number; manifests: number }> {
  const { rows } = await db.query(`
    SELECT
      (SELECT count(*) FROM blobs b
         LEFT JOIN (SELECT blob_id, count(*) AS n FROM repository_blobs GROUP BY blob_id) x ON x.blob_id = b.id
       WHERE b.refcount <> coalesce(x.n, 0))::int AS blobs,
      (SELECT count(*) FROM repository_blobs rb
         LEFT JOIN (SELECT m.repository_id, mb.blob_id, count(*) AS n FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
                    GROUP BY m.repository_id, mb.blob_id) x USING (repository_id, blob_id)
       WHERE rb.refcount <> coalesce(x.n, 0))::int AS links,
      (SELECT count(*) FROM manifests m
         LEFT JOIN (SELECT manifest_id AS id, count(*) AS n FROM tags GROUP BY manifest_id) t USING (id)
         LEFT JOIN (SELECT child_id AS id, count(*) AS n FROM manifest_children GROUP BY child_id) c USING (id)
       WHERE m.refcount <> coalesce(t.n, 0) + coalesce(c.n, 0))::int AS manifests`);
  return rows[0];
}

export interface Targets {
  tagged: Array<{ repo: string; tag: string; digest: string }>;
  subjects: Array<{ repo: string; digest: string }>;
  bigTags: string[];
  repos: string[];
}

/** Where population manifest i lives, as seeded (growth-seed.ts). */
export function placeOf(i: number): { repo: string; tag: string } {
  return { repo: i % 10 === 0 ? BIG : repoName(Math.floor(i / 10) % REPOS), tag: tagName(i) };
}

/** `n` random picks of each kind, spread over the `population` manifests seeded so far (cold rows included). */
export async function pickTargets(db: pg.Client, population: number, n: number, random: () => number): Promise<Targets> {
  const pick = (ok: (i: number) => boolean) => {
    const out: number[] = [];
    while (out.length < n) {
      const i = Math.floor(random() * population);
      if (ok(i)) out.push(i);
    }
    return out;
  };
  const tagged = pick((i) => i % 10 !== 9).map(placeOf);
  const { rows } = await db.query(`
    SELECT m.digest FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS p(repo, tag, n)
    JOIN repositories r ON r.name = p.repo JOIN tags t ON t.repository_id = r.id AND t.name = p.tag JOIN manifests m ON m.id = t.manifest_id
    ORDER BY p.n`, [tagged.map((t) => t.repo), tagged.map((t) => t.tag)]);
  if (rows.length !== tagged.length) throw new Error(`seeded tags missing: found ${rows.length} of ${tagged.length}`);
  const subjects = pick((i) => i % 10 === 8 && i + 1 < population).map(placeOf);
  const subjectRows = await db.query(`
    SELECT m.digest FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS p(repo, tag, n)
    JOIN repositories r ON r.name = p.repo JOIN tags t ON t.repository_id = r.id AND t.name = p.tag JOIN manifests m ON m.id = t.manifest_id
    ORDER BY p.n`, [subjects.map((t) => t.repo), subjects.map((t) => t.tag)]);
  return {
    tagged: tagged.map((t, k) => ({ ...t, digest: rows[k].digest as string })),
    subjects: subjects.map((t, k) => ({ repo: t.repo, digest: subjectRows.rows[k].digest as string })),
    bigTags: pick((i) => i % 10 === 0).map((i) => tagName(i)),
    repos: pick((i) => i % 10 !== 0).map((i) => placeOf(i).repo),
  };
}

const TABLES = ['repositories', 'blobs', 'repository_blobs', 'manifests', 'manifest_blobs', 'manifest_children', 'tags',
  'gc_manifest_reviews', 'gc_link_reviews', 'gc_blob_reviews'];

/** Bytes of the registry's tables with their indexes and TOAST, in total and per table, and the manifest count. */
export async function sizes(db: pg.Client): Promise<{ total: number; manifests: number; perTable: Record<string, number> }> {
  const { rows } = await db.query(`SELECT t AS name, pg_total_relation_size(t::regclass)::int8 AS bytes FROM unnest($1::text[]) t`, [TABLES]);
  const count = await db.query(`SELECT count(*)::int AS n FROM manifests`);
  const perTable = Object.fromEntries(rows.map((r: { name: string; bytes: string }) => [r.name, Number(r.bytes)]));
  return { total: Object.values(perTable).reduce((a, b) => a + b, 0), manifests: count.rows[0].n, perTable };
}

/** EXPLAIN (ANALYZE, BUFFERS) of a statement, for the log when a target is missed. */
export async function explain(db: pg.Client, statement: string, params: unknown[] = []): Promise<string> {
  const { rows } = await db.query(`EXPLAIN (ANALYZE, BUFFERS) ${statement}`, params);
  return rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
}

/** Median milliseconds of a one-row durable commit: the floor under every GC review (each is its own transaction). */
export async function commitLatency(db: pg.Client, commits = 200): Promise<number> {
  await db.query('CREATE TABLE growth_commit_probe (n int)');
  const times: number[] = [];
  try {
    for (let n = 0; n < commits; n++) {
      const t0 = performance.now();
      await db.query('INSERT INTO growth_commit_probe VALUES ($1)', [n]);
      times.push(performance.now() - t0);
    }
  } finally {
    await db.query('DROP TABLE growth_commit_probe');
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)] as number;
}
