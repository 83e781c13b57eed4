// `npm run bench:growth` (issue 20, point 5): how the cost of reads and passes grows
// from 10 000 to 1 000 000 manifests. One `bollard serve` on its own embedded
// PostgreSQL; the tables are seeded straight with SQL (bench/lib/growth-seed.ts),
// 100 000 repositories from the start, and at each size the same measurements run:
// request latencies (p50/p99), a GC pass with 10 000 entries due, a retention dry
// run with 100 tags to delete, and the database's bytes per manifest. Targets
// compare the largest size with the smallest, measured in the same run.
//
// Knobs (env): BENCH_GROWTH_SIZES (10000,100000,1000000), BENCH_GROWTH_REQUESTS
// (1000 per round and workload), BENCH_GROWTH_ROUNDS (3), BENCH_GROWTH_CONCURRENCY (4),
// BENCH_DIR (os tmpdir).
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { openPool } from '../src/db/pool.ts';
import { upsertPolicy } from '../src/db/retention.ts';
import { collectGarbage } from '../src/registry/gc/collector.ts';
import { runRetention } from '../src/registry/retention/run.ts';
import { FsBlobStore } from '../src/storage/fs.ts';
import { pickTargets, refcountMismatches, sizes, type Targets } from './lib/growth-checks.ts';
import * as seed from './lib/growth-seed.ts';
import { measure, seededRandom, type Latency } from './lib/latency.ts';
import { benchBaseDir, startBollard } from './lib/servers.ts';

const SIZES = (process.env.BENCH_GROWTH_SIZES ?? '10000,100000,1000000').split(',').map(Number);
const REQUESTS = Number(process.env.BENCH_GROWTH_REQUESTS ?? 1000);
const ROUNDS = Number(process.env.BENCH_GROWTH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_GROWTH_CONCURRENCY ?? 4);
const GC_DUE = 10_000;
const RETAINED_TAGS = 1000;
const RETENTION_KEEP = 900;
const GC_POLICY = { reviewDelay: 86_400, untagged: 'delete', orphanReferrers: true } as const;
const ACCEPT = { Accept: 'application/vnd.oci.image.manifest.v1+json' };

const log = (msg: string) => process.stderr.write(`[growth ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** Per workload: the median round's p50 and p99, and every round's, for the spread. */
interface Measured {
  p50: number;
  p99: number;
  rounds: Latency[];
}

interface SizeResult {
  manifests: number;
  latencies: Record<string, Measured>;
  gcMs: number;
  gcDeleted: number;
  retentionMs: Measured;
  bytesPerManifest: number;
  perTable: Record<string, number>;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
const summarise = (rounds: Latency[]): Measured => ({ p50: median(rounds.map((r) => r.p50)), p99: median(rounds.map((r) => r.p99)), rounds });

function workloads(url: string, t: Targets): Record<string, { urls: string[]; headers?: Record<string, string> }> {
  const enc = encodeURIComponent;
  return {
    'manifest GET by tag': { urls: t.tagged.map((x) => `${url}/v2/${x.repo}/manifests/${x.tag}`), headers: ACCEPT },
    'manifest GET by digest': { urls: t.tagged.map((x) => `${url}/v2/${x.repo}/manifests/${x.digest}`), headers: ACCEPT },
    'tags/list page (n=100, last=)': { urls: t.bigTags.map((tag) => `${url}/v2/${seed.BIG}/tags/list?n=100&last=${tag}`) },
    'catalog page (n=100, last=)': { urls: t.repos.map((r) => `${url}/v2/_catalog?n=100&last=${enc(r)}`) },
    'referrers listing': { urls: t.subjects.map((s) => `${url}/v2/${s.repo}/referrers/${s.digest}`) },
  };
}

async function checkServed(url: string, db: Parameters<typeof pickTargets>[0], population: number): Promise<void> {
  const [one] = (await pickTargets(db, population, 1, seededRandom(population))).tagged;
  if (!one) throw new Error('no seeded manifest to fetch');
  const res = await fetch(`${url}/v2/${one.repo}/manifests/${one.tag}`, { headers: ACCEPT });
  const body = Buffer.from(await res.arrayBuffer());
  const { createHash } = await import('node:crypto');
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  if (res.status !== 200 || digest !== one.digest || res.headers.get('docker-content-digest') !== one.digest) {
    throw new Error(`seeded manifest ${one.repo}:${one.tag} not served as seeded: ${res.status} ${digest}`);
  }
}

async function measureSize(ctx: Ctx, population: number, round: number): Promise<SizeResult> {
  log(`${population}: vacuum analyze`);
  await ctx.db.query('VACUUM (ANALYZE)');
  const bad = await refcountMismatches(ctx.db);
  if (bad.blobs + bad.links + bad.manifests > 0) throw new Error(`refcount recount differs: ${JSON.stringify(bad)}`);
  await checkServed(ctx.url, ctx.db, population);
  log(`${population}: refcounts exact, a seeded manifest served as seeded`);
  const random = seededRandom(20);
  const latencies: Record<string, Measured> = {};
  for (const w of Object.values(workloads(ctx.url, await pickTargets(ctx.db, population, 200, random)))) await measure(w.urls, CONCURRENCY, w.headers);
  const rounds: Record<string, Latency[]> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, w] of Object.entries(workloads(ctx.url, await pickTargets(ctx.db, population, REQUESTS, random)))) {
      (rounds[name] ??= []).push(await measure(w.urls, CONCURRENCY, w.headers));
    }
  }
  for (const [name, r] of Object.entries(rounds)) latencies[name] = summarise(r);
  log(`${population}: latencies measured`);

  const retention: Latency[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    const report = await runRetention(ctx.pool, { dryRun: true });
    const ms = performance.now() - t0;
    if (report?.items.length !== RETAINED_TAGS - RETENTION_KEEP) throw new Error(`retention dry run planned ${report?.items.length} items`);
    retention.push({ p50: ms, p99: ms });
  }

  await seed.seedGcDue(ctx.db, round, GC_DUE);
  await ctx.db.query('ANALYZE gc_manifest_reviews');
  const t0 = performance.now();
  const gc = await collectGarbage({ pool: ctx.pool, store: ctx.store }, GC_POLICY);
  const gcMs = performance.now() - t0;
  const gcDeleted = gc.deleted.filter((d) => d.target === 'manifest').length;
  if (gcDeleted !== GC_DUE) throw new Error(`gc deleted ${gcDeleted} manifests, ${GC_DUE} were due`);
  log(`${population}: gc ${gcMs.toFixed(0)} ms, retention dry run ${median(retention.map((r) => r.p50)).toFixed(1)} ms`);

  const s = await sizes(ctx.db);
  return { manifests: s.manifests, latencies, gcMs, gcDeleted, retentionMs: summarise(retention), bytesPerManifest: s.total / s.manifests, perTable: s.perTable };
}

interface Ctx {
  url: string;
  db: Awaited<ReturnType<typeof seed.connect>>;
  pool: Awaited<ReturnType<typeof openPool>>;
  store: FsBlobStore;
}

async function main(): Promise<void> {
  const base = await benchBaseDir();
  // the workers would collect and retain the seeded rows behind the measurements' backs
  const bollard = await startBollard(base, { BOLLARD_GC: 'false', BOLLARD_RETENTION_INTERVAL: '0' });
  const db = await seed.connect(bollard.databaseUrl as string);
  const pool = await openPool(bollard.databaseUrl as string, { maximumPoolSize: 4 });
  const ctx: Ctx = { url: bollard.url, db, pool, store: new FsBlobStore(join(bollard.dataDir, 'storage')) };
  const results: SizeResult[] = [];
  try {
    await seed.seedRepositories(db);
    await seed.seedRetained(db, RETAINED_TAGS);
    await upsertPolicy(pool, { repositoryGlob: seed.RETAINED, keepLast: RETENTION_KEEP, keepRegex: null, untaggedDelaySeconds: null });
    let have = 0;
    for (const [round, size] of SIZES.entries()) {
      const t0 = performance.now();
      await seed.seedPopulation(db, have, size, (n) => log(`seeded ${n} manifests`));
      have = size;
      log(`${size}: seeded in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      results.push(await measureSize(ctx, size, round));
    }
  } finally {
    await db.end();
    await pool.end();
    await bollard.stop();
  }
  await report(results);
}

async function report(results: SizeResult[]): Promise<void> {
  const first = results[0] as SizeResult;
  const last = results[results.length - 1] as SizeResult;
  const f = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(2));
  const head = `| workload | ${results.map((r) => `${r.manifests} manifests`).join(' | ')} | ratio |`;
  const lines = [head, `| --- |${results.map(() => ' ---: |').join('')} ---: |`];
  const targets: Array<[string, boolean, string]> = [];
  for (const name of Object.keys(first.latencies)) {
    const cell = (r: SizeResult) => {
      const m = r.latencies[name] as Measured;
      return `${f(m.p50)} / ${f(m.p99)} (p50 ${f(Math.min(...m.rounds.map((x) => x.p50)))}–${f(Math.max(...m.rounds.map((x) => x.p50)))})`;
    };
    const a = first.latencies[name] as Measured;
    const b = last.latencies[name] as Measured;
    const ratio = `${(b.p50 / a.p50).toFixed(2)}× / ${(b.p99 / a.p99).toFixed(2)}×`;
    lines.push(`| ${name}, ms p50 / p99 | ${results.map(cell).join(' | ')} | ${ratio} |`);
    targets.push([`${name} at ${last.manifests} within 1.5× of ${first.manifests} (p50, p99)`, b.p50 <= 1.5 * a.p50 && b.p99 <= 1.5 * a.p99, ratio]);
  }
  const gcRatio = last.gcMs / first.gcMs;
  lines.push(`| GC pass, ${GC_DUE} manifests due, ms | ${results.map((r) => f(r.gcMs)).join(' | ')} | ${gcRatio.toFixed(2)}× |`);
  targets.push([`GC pass with ${GC_DUE} due at ${last.manifests} within 1.5× of ${first.manifests}`, gcRatio <= 1.5, `${gcRatio.toFixed(2)}×`]);
  const ret = (r: SizeResult) => `${f(r.retentionMs.p50)} (${f(Math.min(...r.retentionMs.rounds.map((x) => x.p50)))}–${f(Math.max(...r.retentionMs.rounds.map((x) => x.p50)))})`;
  const retRatio = last.retentionMs.p50 / first.retentionMs.p50;
  lines.push(`| retention dry run, ${RETAINED_TAGS - RETENTION_KEEP} tags due, ms | ${results.map(ret).join(' | ')} | ${retRatio.toFixed(2)}× |`);
  targets.push([`retention dry run at ${last.manifests} within 1.5× of ${first.manifests}`, retRatio <= 1.5, `${retRatio.toFixed(2)}×`]);
  lines.push(`| PostgreSQL bytes per manifest | ${results.map((r) => f(r.bytesPerManifest)).join(' | ')} | ${(last.bytesPerManifest / first.bytesPerManifest).toFixed(2)}× |`);
  lines.push('', '| target | result | met |', '| --- | --- | --- |');
  for (const [name, ok, value] of targets) lines.push(`| ${name} | ${value} | ${ok ? 'yes' : 'NO'} |`);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  process.stdout.write(`\nBollard growth, ${new Date().toISOString().slice(0, 16)}Z, ${machine}, ${CONCURRENCY} concurrent clients, ${ROUNDS} × ${REQUESTS} requests per workload\n\n${lines.join('\n')}\n`);
  const perTable = results.map((r) => `${r.manifests}: ${Object.entries(r.perTable).map(([t, b]) => `${t} ${(b / 2 ** 20).toFixed(1)} MiB`).join(', ')}`);
  process.stdout.write(`\n${perTable.join('\n')}\n`);
  const dir = new URL('./results/', import.meta.url);
  await mkdir(dir, { recursive: true });
  await writeFile(new URL(`growth-${Date.now()}.json`, dir), JSON.stringify({ date: new Date().toISOString(), machine, results, targets }, null, 2));
}

await main();
