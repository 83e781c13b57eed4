// `node bench/growth-explain.ts`: seeds GC_REPO with 10 000 due manifests on a fresh
// `bollard serve` (as bench/growth.ts does) and prints EXPLAIN (ANALYZE, BUFFERS)
// of the statements one GC review of a manifest runs, the ones a trigger runs with
// the generic plan PL/pgSQL caches; with BENCH_EXPLAIN_GC=1 it then times the GC pass.
import { join } from 'node:path';
import { openPool } from '../src/db/pool.ts';
import { collectGarbage } from '../src/registry/gc/collector.ts';
import { FsBlobStore } from '../src/storage/fs.ts';
import { explain } from './lib/growth-checks.ts';
import * as seed from './lib/growth-seed.ts';
import { benchBaseDir, startBollard } from './lib/servers.ts';

const base = await benchBaseDir();
const bollard = await startBollard(base, { BOLLARD_GC: 'false', BOLLARD_RETENTION_INTERVAL: '0' });
const db = await seed.connect(bollard.databaseUrl as string);
const pool = await openPool(bollard.databaseUrl as string, { maximumPoolSize: 2 });
try {
  await seed.seedRepositories(db, false);
  await seed.seedGcDue(db, 0, 10_000);
  await db.query('VACUUM (ANALYZE)');
  const { rows } = await db.query(`SELECT m.id, m.repository_id, m.digest, m.digest_sha512 FROM manifests m ORDER BY id LIMIT 1`);
  const m = rows[0];
  await db.query(`SET plan_cache_mode = force_generic_plan`);
  await db.query(`PREPARE referrers_of(bigint, text, text) AS
    SELECT id FROM manifests WHERE repository_id = $1 AND subject_digest IN ($2, $3) AND refcount = 0`);
  process.stdout.write(`-- gc_review_referrers (generic plan)\n${await explain(db, `EXECUTE referrers_of(${Number(m.repository_id)}, ${db.escapeLiteral(m.digest)}, ${db.escapeLiteral(m.digest_sha512)})`)}\n\n`);
  await db.query(`RESET plan_cache_mode`);
  await db.query('BEGIN');
  process.stdout.write(`-- DELETE of one manifest with its cascades and triggers\n${await explain(db, 'DELETE FROM manifests WHERE id = $1', [m.id])}\n\n`);
  await db.query('ROLLBACK');
  if (process.env.BENCH_EXPLAIN_GC === '1') {
    const t0 = performance.now();
    const report = await collectGarbage({ pool, store: new FsBlobStore(join(bollard.dataDir, 'storage')) }, { reviewDelay: 86_400, untagged: 'delete', orphanReferrers: true });
    process.stdout.write(`gc pass: ${report.deleted.length} deleted in ${(performance.now() - t0).toFixed(0)} ms\n`);
  }
} finally {
  await db.end();
  await pool.end();
  await bollard.stop();
}
