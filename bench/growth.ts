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
// BENCH_GROWTH_GC_DUE (10000), BENCH_DIR (os tmpdir).
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { openPool } from '../src/db/pool.ts';
import { upsertPolicy } from '../src/db/retention.ts';
import { collectGarbage } from '../src/registry/gc/collector.ts';
import { runRetention } from '../src/registry/retention/run.ts';
import { FsBlobStore } from '../src/storage/fs.ts';
import { commitLatency, pickTargets, refcountMismatches, sizes, type Targets } from './lib/growth-checks.ts';
import * as seed from './lib/growth-seed.ts';
import { measure, seededRandom, type Latency } from './lib/latency.ts';
import { benchBaseDir, startBollard } from './lib/servers.ts';

const SIZES = (process.env.BENCH_GROWTH_SIZES ?? '10000,100000,1000000').split(',').map(Number);
const REQUESTS = Number(process.env.BENCH_GROWTH_REQUESTS ?? 1000);
const ROUNDS = Number(process.env.BENCH_GROWTH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_GROWTH_CONCURRENCY ?? 4);
const GC_DUE = Number(process.env.BENCH_GROWTH_GC_DUE ?? 10_000);
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

interface Passes {
  gcMs: number;
  /** a one-row durable commit's median, measured right after the GC pass */
  commitMs: number;
  retentionMs: Measured;
}

interface SizeResult extends Passes {
  population: number;
  manifests: number;
  latencies: Record<string, Measured>;
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

  const passes = await measurePasses(ctx, round + 1, `${population}`);
  const s = await sizes(ctx.db);
  return { population, manifests: s.manifests, latencies, ...passes, bytesPerManifest: s.total / s.manifests, perTable: s.perTable };
}

/** A GC pass with GC_DUE manifests due (seeded now, as round `round`) and ROUNDS retention dry runs. */
async function measurePasses(ctx: Ctx, round: number, label: string): Promise<Passes> {
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
  log(`${label}: gc ${gcMs.toFixed(0)} ms, retention dry run ${median(retention.map((r) => r.p50)).toFixed(1)} ms`);

  return { gcMs, commitMs: await commitLatency(ctx.db), retentionMs: summarise(retention) };
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
  let baseline: Passes | null = null;
  try {
    await seed.seedRepositories(db, false);
    await seed.seedRetained(db, RETAINED_TAGS);
    await upsertPolicy(pool, { repositoryGlob: seed.RETAINED, keepLast: RETENTION_KEEP, keepRegex: null, untaggedDelaySeconds: null, unpulledDelaySeconds: null });
    await db.query('VACUUM (ANALYZE)');
    // the same work due in a registry holding nothing else: what the passes are held to
    baseline = await measurePasses(ctx, 0, 'empty registry');
    await seed.seedRepositories(db, true);
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
  if (baseline) await report(baseline, results);
}

async function report(baseline: Passes, results: SizeResult[]): Promise<void> {
  const first = results[0] as SizeResult;
  const last = results[results.length - 1] as SizeResult;
  const f = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(2));
  const spread = (rounds: Latency[]) => `${f(Math.min(...rounds.map((x) => x.p50)))}–${f(Math.max(...rounds.map((x) => x.p50)))}`;
  const lines = [
    `| workload | empty registry | ${results.map((r) => `${r.population} manifests`).join(' | ')} | ratio, largest / smallest |`,
    `| --- | ---: |${results.map(() => ' ---: |').join('')} ---: |`,
  ];
  const targets: Array<[string, boolean, string]> = [];
  for (const name of Object.keys(first.latencies)) {
    const cell = (r: SizeResult) => {
      const m = r.latencies[name] as Measured;
      return `${f(m.p50)} / ${f(m.p99)} (p50 ${spread(m.rounds)})`;
    };
    const a = first.latencies[name] as Measured;
    const b = last.latencies[name] as Measured;
    const ratio = `${(b.p50 / a.p50).toFixed(2)}× / ${(b.p99 / a.p99).toFixed(2)}×`;
    lines.push(`| ${name}, ms p50 / p99 | | ${results.map(cell).join(' | ')} | ${ratio} |`);
    targets.push([`${name}: ${last.population} within 1.5× of ${first.population} (p50 / p99)`, b.p50 <= 1.5 * a.p50 && b.p99 <= 1.5 * a.p99, ratio]);
  }
  // passes are held to the same work due in an empty registry, and to the smallest size
  const passRow = (label: string, of: (p: Passes) => number, cell: (p: Passes) => string) => {
    const worst = Math.max(...results.map(of)) / of(baseline);
    const growth = of(last) / of(first);
    lines.push(`| ${label} | ${cell(baseline)} | ${results.map(cell).join(' | ')} | ${growth.toFixed(2)}× |`);
    targets.push([`${label}: every size within 1.5× of the empty registry`, worst <= 1.5, `${worst.toFixed(2)}× at most`]);
    targets.push([`${label}: ${last.population} within 1.5× of ${first.population}`, growth <= 1.5, `${growth.toFixed(2)}×`]);
  };
  passRow(`GC pass, ${GC_DUE} manifests due, ms`, (p) => p.gcMs, (p) => f(p.gcMs));
  passRow(`retention dry run, ${RETAINED_TAGS - RETENTION_KEEP} tags due, ms`, (p) => p.retentionMs.p50, (p) => `${f(p.retentionMs.p50)} (${spread(p.retentionMs.rounds)})`);
  lines.push(`| one-row durable commit, ms (median of 200) | ${f(baseline.commitMs)} | ${results.map((r) => f(r.commitMs)).join(' | ')} | |`);
  const perManifest = (r: SizeResult, tables: string[]) => tables.reduce((a, t) => a + (r.perTable[t] ?? 0), 0) / r.manifests;
  const manifestTables = ['blobs', 'repository_blobs', 'manifests', 'manifest_blobs', 'manifest_children', 'tags'];
  lines.push(`| PostgreSQL bytes per manifest, all tables (${Object.keys(first.perTable).length}) | | ${results.map((r) => f(r.bytesPerManifest)).join(' | ')} | ${(last.bytesPerManifest / first.bytesPerManifest).toFixed(2)}× |`);
  lines.push(`| … of which manifests, blobs, links, references, tags | | ${results.map((r) => f(perManifest(r, manifestTables))).join(' | ')} | ${(perManifest(last, manifestTables) / perManifest(first, manifestTables)).toFixed(2)}× |`);
  lines.push(`| manifest rows (population + ${RETAINED_TAGS} retained) | | ${results.map((r) => r.manifests).join(' | ')} | |`);
  lines.push('', '| target | result | met |', '| --- | --- | --- |');
  for (const [name, ok, value] of targets) lines.push(`| ${name} | ${value} | ${ok ? 'yes' : 'NO'} |`);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  process.stdout.write(`\nBollard growth, ${new Date().toISOString().slice(0, 16)}Z, ${machine}, ${CONCURRENCY} concurrent clients, ${ROUNDS} × ${REQUESTS} requests per workload\n\n${lines.join('\n')}\n`);
  const perTable = results.map((r) => `${r.manifests}: ${Object.entries(r.perTable).map(([t, b]) => `${t} ${(b / 2 ** 20).toFixed(1)} MiB`).join(', ')}`);
  process.stdout.write(`\n${perTable.join('\n')}\n`);
  const dir = new URL('./results/', import.meta.url);
  await mkdir(dir, { recursive: true });
  await writeFile(new URL(`growth-${Date.now()}.json`, dir), JSON.stringify({ date: new Date().toISOString(), machine, baseline, results, targets }, null, 2));
}

await main();
