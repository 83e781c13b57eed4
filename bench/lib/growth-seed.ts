// Seeding for `npm run bench:growth`: manifests, tags, blobs and links written
// straight into Bollard's tables with set operations, in the shape a push through
// the API leaves them (rows, refcounts, the triggers' review-queue entries). Pushing
// a million manifests through the API would take hours on this machine; what is
// measured is how reads and passes cost as the tables grow, not the push path.
// Not written: the event journal (its CBOR payloads are the API's to build).
//
// Manifest number i (a bigint, the same i always gives the same bytes) is an OCI
// image manifest with its own config and layer blob, linked to its repository.
import pg from 'pg';

export const REPOS = 100_000;
export const BIG = 'growth/big';
export const RETAINED = 'growth/retained';
export const GC_REPO = 'growth/gc';
export const repoName = (k: number) => `growth/r${String(k).padStart(6, '0')}`;
export const tagName = (i: number) => `v${String(i).padStart(10, '0')}`;

/**
 * Where manifest i of the population goes: every tenth to BIG (its tags list grows
 * with the registry), the rest in blocks of nine to the repositories in turn; the
 * ninth of a block is a referrer (untagged) of the eighth.
 */
const POPULATION = {
  repo: `CASE WHEN i % 10 = 0 THEN '${BIG}' ELSE 'growth/r' || lpad(((i / 10) % ${REPOS})::text, 6, '0') END`,
  referrer: 'i % 10 = 9',
  tagged: 'i % 10 <> 9',
};

const FUNCTIONS = `
CREATE FUNCTION pg_temp.growth_blob_sha(i bigint, k int) RETURNS bytea LANGUAGE sql IMMUTABLE
  AS $$ SELECT sha256(convert_to('growth blob ' || k || ' ' || i, 'UTF8')) $$;
CREATE FUNCTION pg_temp.growth_blob_size(i bigint, k int) RETURNS bigint LANGUAGE sql IMMUTABLE
  AS $$ SELECT CASE WHEN k = 0 THEN 600 + i % 1000 ELSE 1000000 + i % 100000 END $$;
CREATE FUNCTION pg_temp.growth_descriptor(media text, digest text, size bigint) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT '{"mediaType":"' || media || '","digest":"' || digest || '","size":' || size || '}' $$;
CREATE FUNCTION pg_temp.growth_manifest(i bigint, subject bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT convert_to('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
    || CASE WHEN subject IS NULL THEN '' ELSE '"artifactType":"application/vnd.example.sbom+json",' END
    || '"config":' || pg_temp.growth_descriptor('application/vnd.oci.image.config.v1+json',
         'sha256:' || encode(pg_temp.growth_blob_sha(i, 0), 'hex'), pg_temp.growth_blob_size(i, 0))
    || ',"layers":[' || pg_temp.growth_descriptor('application/vnd.oci.image.layer.v1.tar+gzip',
         'sha256:' || encode(pg_temp.growth_blob_sha(i, 1), 'hex'), pg_temp.growth_blob_size(i, 1)) || ']'
    || CASE WHEN subject IS NULL THEN '' ELSE ',"subject":' || pg_temp.growth_descriptor('application/vnd.oci.image.manifest.v1+json',
         'sha256:' || encode(sha256(subject), 'hex'), length(subject)) END
    || '}', 'UTF8') $$;
`;

export async function connect(databaseUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(FUNCTIONS);
  return client;
}

/** The three repositories of the measurements, and with `all` the REPOS of the population. */
export async function seedRepositories(db: pg.Client, all: boolean): Promise<void> {
  await db.query(`
    INSERT INTO repositories (name)
    SELECT 'growth/r' || lpad(k::text, 6, '0') FROM generate_series(0, ${all ? REPOS - 1 : -1}) k
    UNION ALL VALUES ('${BIG}'), ('${RETAINED}'), ('${GC_REPO}')
    ON CONFLICT (name) DO NOTHING`);
}

interface Shape {
  /** SQL of i: the repository's name */
  repo: string;
  /** SQL of i: a referrer of manifest i - 1 */
  referrer: string;
  /** SQL of i: tagged (tagName(i)) */
  tagged: string;
}

/** Seeds manifests from..to-1 in one transaction, ids taken past the current ones and the sequences moved past them. */
async function seedRange(db: pg.Client, from: number, to: number, shape: Shape, stamp = 'now()'): Promise<void> {
  await db.query('BEGIN');
  await db.query(`
    CREATE TEMP TABLE growth_rows ON COMMIT DROP AS
    SELECT i, r.id AS repository_id, x.referrer, x.tagged,
           CASE WHEN x.referrer THEN pg_temp.growth_manifest(i, pg_temp.growth_manifest(i - 1, NULL)) ELSE pg_temp.growth_manifest(i, NULL) END AS content,
           (SELECT coalesce(max(id), 0) FROM blobs) + 1 + 2 * (i - ${from}) AS blob_id,
           (SELECT coalesce(max(id), 0) FROM manifests) + 1 + (i - ${from}) AS manifest_id
    FROM generate_series(${from}::bigint, ${to - 1}) i
    CROSS JOIN LATERAL (SELECT ${shape.repo} AS repo, ${shape.referrer} AS referrer, ${shape.tagged} AS tagged) x
    JOIN repositories r ON r.name = x.repo`);
  await db.query(`
    INSERT INTO blobs (id, blake3, size, sha256, refcount)
    SELECT blob_id + k, sha256(convert_to('growth blake3 ' || k || ' ' || i, 'UTF8')), pg_temp.growth_blob_size(i, k), pg_temp.growth_blob_sha(i, k), 1
    FROM growth_rows, (VALUES (0), (1)) v(k)`);
  await db.query(`
    INSERT INTO repository_blobs (repository_id, blob_id, refcount)
    SELECT repository_id, blob_id + k, 1 FROM growth_rows, (VALUES (0), (1)) v(k)`);
  await db.query(`
    INSERT INTO manifests (id, repository_id, digest, digest_sha512, media_type, artifact_type, subject_digest, content, refcount)
    SELECT manifest_id, repository_id, 'sha256:' || encode(sha256(content), 'hex'), 'sha512:' || encode(sha512(content), 'hex'),
           'application/vnd.oci.image.manifest.v1+json',
           CASE WHEN referrer THEN 'application/vnd.example.sbom+json' ELSE 'application/vnd.oci.image.config.v1+json' END,
           CASE WHEN referrer THEN 'sha256:' || encode(sha256(pg_temp.growth_manifest(i - 1, NULL)), 'hex') END,
           content, CASE WHEN tagged THEN 1 ELSE 0 END
    FROM growth_rows`);
  await db.query(`INSERT INTO manifest_blobs (manifest_id, blob_id) SELECT manifest_id, blob_id + k FROM growth_rows, (VALUES (0), (1)) v(k)`);
  await db.query(`
    INSERT INTO tags (repository_id, name, manifest_id, updated_at)
    SELECT repository_id, 'v' || lpad(i::text, 10, '0'), manifest_id, ${stamp} FROM growth_rows WHERE tagged`);
  for (const table of ['blobs', 'manifests']) {
    await db.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), (SELECT max(id) FROM ${table}))`);
  }
  await db.query('COMMIT');
}

const CHUNK = 50_000;

/** Grows the population from `have` to `want` manifests. */
export async function seedPopulation(db: pg.Client, have: number, want: number, progress: (n: number) => void): Promise<void> {
  for (let from = have; from < want; from += CHUNK) {
    await seedRange(db, from, Math.min(want, from + CHUNK), POPULATION);
    progress(Math.min(want, from + CHUNK));
  }
}

/** Numbers far past the population's, so these manifests never share bytes with it. */
const RETAINED_BASE = 2_000_000_000;
const GC_BASE = 3_000_000_000;

/** RETAINED: `count` tagged manifests, pushed a second apart (retention keeps the most recent). */
export async function seedRetained(db: pg.Client, count: number): Promise<void> {
  const shape = { repo: `'${RETAINED}'`, referrer: 'false', tagged: 'true' };
  await seedRange(db, RETAINED_BASE, RETAINED_BASE + count, shape, `now() - (i - ${RETAINED_BASE}) * interval '1 second'`);
}

/**
 * GC_REPO: `count` untagged manifests whose review is due (unreferenced two days
 * ago); `round` keeps each round's bytes apart from the earlier rounds'.
 */
export async function seedGcDue(db: pg.Client, round: number, count: number): Promise<void> {
  const from = GC_BASE + round * 1_000_000;
  await seedRange(db, from, from + count, { repo: `'${GC_REPO}'`, referrer: 'false', tagged: 'false' });
  await db.query(`
    UPDATE gc_manifest_reviews q SET since = now() - interval '2 days'
    FROM manifests m JOIN repositories r ON r.id = m.repository_id
    WHERE m.id = q.manifest_id AND r.name = '${GC_REPO}'`);
}
