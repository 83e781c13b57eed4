// `npm run bench`: Bollard and distribution 2.8.2 side by side, same workloads,
// same machine, same run. Prints a table with both figures and the ratio, checks
// the targets, and writes everything as JSON under bench/results/.
//
// Knobs (env): BENCH_SIZE_MIB (1024), BENCH_ROUNDS (3), BENCH_PULLS (3 per round), BENCH_TAGS (100000),
// BENCH_SECONDS (10), BENCH_RSS_MIB (4096), BENCH_DIR (os tmpdir), BENCH_CLIENT
// (node, or sendfile for bench/lib/transfer.py as the client of the 1 GiB transfers).
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { closeClient } from './lib/client.ts';
import { directWriteRate, dropPageCache, fsyncedWriteRate, makeRandomFile, settleDisk, writeBehindRate } from './lib/files.ts';
import { peakRss } from './lib/rss.ts';
import { seedBollardTags, seedDistributionTags } from './lib/seed.ts';
import { measureScaling } from './lib/scale.ts';
import { benchBaseDir, startBollard, startDistribution, type Registry } from './lib/servers.ts';
import * as w from './lib/workloads.ts';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_SIZE_MIB ?? 1024) * MiB;
const TAGS = Number(process.env.BENCH_TAGS ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RSS_BIG = Number(process.env.BENCH_RSS_MIB ?? 4096) * MiB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Pulls per registry per round (each round reports their median): one pull is too noisy a sample. */
const PULLS = Number(process.env.BENCH_PULLS ?? 3);

interface Row {
  workload: string;
  unit: string;
  bollard: number;
  distribution: number | null;
  note?: string;
  /** Per-round figures, [bollard, distribution], where the row is a median. */
  rounds?: number[][];
}

const rows: Row[] = [];
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

/** Runs a workload on each registry in turn, each starting with no dirty pages left by the one before. */
async function both(workload: string, unit: string, reg: Registry[], fn: (r: Registry) => Promise<number>): Promise<Row> {
  const values: number[] = [];
  for (const r of reg) {
    log(`${workload}: ${r.name}`);
    settleDisk();
    values.push(await fn(r));
  }
  const row = { workload, unit, bollard: values[0] as number, distribution: values[1] ?? null };
  rows.push(row);
  return row;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;

/** The median of a few rounds, as a row; each round's figures are kept in the JSON. */
function medianRow(workload: string, unit: string, perRegistry: number[][]): Row {
  const row: Row = { workload, unit, bollard: median(perRegistry[0] as number[]), distribution: median(perRegistry[1] as number[]), rounds: perRegistry };
  rows.push(row);
  return row;
}

/**
 * Pushes and pulls of SIZE bytes, ROUNDS rounds, the median reported. Every push
 * sends content neither registry has seen (a repeat would skip the final sync),
 * the registries alternate which goes first, and each measurement starts with no
 * dirty pages left by the one before. Pulls, PULLS times each per round, the
 * registries taking turns: from the disk (page cache dropped before each, when
 * allowed), then from the page cache.
 */
async function transfers(base: string, regs: Registry[]): Promise<{ mono: Row; chunked: Row; cold: Row | null; warm: Row }> {
  const res = { mono: [[], []], chunked: [[], []], cold: [[], []], warm: [[], []] } as Record<'mono' | 'chunked' | 'cold' | 'warm', number[][]>;
  const canDrop = await dropPageCache();
  if (!canDrop) log('cannot drop the page cache (not root): pulls from the disk not measured');
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [0, 1] : [1, 0];
    const monoFile = await makeRandomFile(join(base, `mono${round}.bin`), SIZE);
    const chunkFile = await makeRandomFile(join(base, `chunked${round}.bin`), SIZE);
    const repo = `bench/mono${round}`;
    // `samples` measurements per registry, alternating which goes first; the round keeps their median
    const measure = async (what: keyof typeof res, fn: (r: Registry) => Promise<number>, samples = 1) => {
      const got: number[][] = [[], []];
      for (let s = 0; s < samples; s++) {
        for (const i of s % 2 === 0 ? order : [...order].reverse()) {
          const r = regs[i] as Registry;
          log(`round ${round + 1}/${ROUNDS}, ${what}${samples > 1 ? ` ${s + 1}/${samples}` : ''}: ${r.name}`);
          settleDisk();
          (got[i] as number[]).push(await fn(r));
        }
      }
      for (const i of [0, 1]) (res[what][i] as number[]).push(median(got[i] as number[]));
    };
    await measure('mono', (r) => w.monolithicPush(r.url, monoFile, repo));
    await measure('chunked', (r) => w.chunkedPush(r.url, chunkFile, 8 * MiB));
    if (canDrop) {
      await measure('cold', async (r) => {
        await dropPageCache();
        return w.pullBlob(r.url, monoFile, repo);
      }, PULLS);
    }
    for (const r of regs) await w.pullBlob(r.url, monoFile, repo); // brings it into the page cache
    await measure('warm', (r) => w.pullBlob(r.url, monoFile, repo), PULLS);
    await rm(monoFile.path);
    await rm(chunkFile.path);
  }
  const mib = SIZE / MiB;
  return {
    mono: medianRow(`monolithic push ${mib} MiB, median of ${ROUNDS}`, 'MB/s', res.mono),
    chunked: medianRow(`chunked push ${mib} MiB in 8 MiB chunks, median of ${ROUNDS}`, 'MB/s', res.chunked),
    cold: canDrop ? medianRow(`pull ${mib} MiB from the disk (page cache dropped), median of ${ROUNDS} rounds of ${PULLS}`, 'MB/s', res.cold) : null,
    warm: medianRow(`pull ${mib} MiB from the page cache, median of ${ROUNDS} rounds of ${PULLS}`, 'MB/s', res.warm),
  };
}

async function main(): Promise<void> {
  const base = await benchBaseDir();
  const started: Registry[] = [];
  try {
    log(`data in ${base}`);
    // The disk's own durable write rates, each way Bollard can write; the best is what the push is held to.
    settleDisk();
    const fsynced = (await fsyncedWriteRate(join(base, 'disk-probe'), SIZE)) / 1e6;
    await rm(join(base, 'disk-probe'));
    rows.push({ workload: 'disk: 8 MiB writes through the page cache, then fsync', unit: 'MB/s', bollard: fsynced, distribution: null, note: 'dd conv=fdatasync' });
    settleDisk();
    const behind = (await writeBehindRate(join(base, 'disk-probe'), SIZE)) / 1e6;
    await rm(join(base, 'disk-probe'));
    rows.push({ workload: 'disk: 1 MiB writes through the page cache, fdatasync every 16 MiB and at the end', unit: 'MB/s', bollard: behind, distribution: null, note: "Bollard's page-cache path" });
    settleDisk();
    const direct = await directWriteRate(base, join(base, 'disk-probe'), SIZE);
    await rm(join(base, 'disk-probe'), { force: true });
    if (direct !== null) rows.push({ workload: 'disk: 2 MiB O_DIRECT writes, then fsync', unit: 'MB/s', bollard: direct / 1e6, distribution: null, note: "Bollard's direct path" });
    const diskRate = Math.max(fsynced, behind, (direct ?? 0) / 1e6);
    const bollard = await startBollard(base);
    started.push(bollard);
    const distribution = await startDistribution(base);
    started.push(distribution);
    const regs = [bollard, distribution];
    const { mono, chunked, cold, warm } = await transfers(base, regs);
    const files = await w.makeFiles(base, 32, 32 * MiB);
    const concurrent = await both('32 concurrent pushes of 32 MiB', 'MB/s', regs, (r) => w.concurrentPushes(r.url, files));
    for (const f of files) await rm(f.path);
    const concurrentRss = (await peakRss(bollard.pid)) / 1e6;
    rows.push({ workload: 'bollard peak RSS so far (transfers and 32 concurrent pushes)', unit: 'MB', bollard: concurrentRss, distribution: null });

    const images = new Map<string, { layerDigest: string; manifest: Buffer }>();
    for (const r of regs) images.set(r.name, await w.pushImage(r.url, 'bench/small', 'latest'));
    const accept = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
    const mget = await both('manifest GET by tag (16 conns)', 'req/s', regs, (r) =>
      w.requestRate(`${r.url}/v2/bench/small/manifests/latest`, { Accept: accept }, SECONDS),
    );
    await both('blob HEAD (16 conns)', 'req/s', regs, (r) =>
      w.headRate(`${r.url}/v2/bench/small/blobs/${images.get(r.name)?.layerDigest}`, SECONDS),
    );

    const FILL = Math.min(TAGS, 5000);
    const tagPushes = await both(`tag ${FILL} pushes through the API (16 conns)`, 'tags/s', regs, async (r) => FILL / (await w.fillTags(r.url, 'bench/small', images.get(r.name)?.manifest as Buffer, FILL)));
    log(`seeding ${TAGS} tags in each registry's own storage`);
    await seedBollardTags(bollard.databaseUrl as string, 'bench/small', images.get('bollard')?.manifest as Buffer, TAGS);
    await seedDistributionTags(distribution.dataDir, 'bench/small', images.get('distribution')?.manifest as Buffer, TAGS);
    const tags = await both(`tags/list page of 1000 at ${TAGS} tags, p50`, 'ms', regs, async (r) => (await w.tagsPageLatency(r.url, 'bench/small', TAGS, 1000, 41)).p50);
    tags.note = 'distribution 2.8.2 ignores n and returns every tag';

    const peaks = await both('peak RSS after the workloads above', 'MB', regs, async (r) => (await peakRss(r.pid)) / 1e6);
    const switches = (bollard.output?.().text.split('\n') ?? []).filter((l) => l.includes('uploads staged'));
    rows.push({ workload: 'bollard write-path switches during the run (direct ⇄ page cache)', unit: 'count', bollard: switches.length, distribution: null, note: switches.map((l) => l.replace(/^.*"time":"[^"]*T([^".]*)[^"]*",/, '$1 ')).join(' ') });

    for (const r of regs) await r.stop();
    started.length = 0;
    const rss = await rssUnderLoad(base);
    log('scale-out: 1 vs 2 processes');
    const scale = await measureScaling(base, SECONDS);
    rows.push({ workload: 'manifest GET by tag, 1 → 2 processes (16 conns total)', unit: 'req/s', bollard: scale.getTwo, distribution: null, note: `1 process: ${scale.getOne.toFixed(0)}, ×${(scale.getTwo / scale.getOne).toFixed(2)}` });
    rows.push({ workload: '16 concurrent pushes of 16 MiB, 1 → 2 processes', unit: 'MB/s', bollard: scale.pushTwo, distribution: null, note: `1 process: ${scale.pushOne.toFixed(0)}, ×${(scale.pushTwo / scale.pushOne).toFixed(2)}` });

    report({ diskRate, mono: mono, chunked, cold, warm, mget, tags, peaks, rss, concurrent, concurrentRss, tagPushes });
  } catch (err) {
    // what the servers said last, above all when one of them died
    for (const r of started) {
      if (!r.output) continue;
      const { text, exitCode, signal } = r.output();
      log(`${r.name}: ${exitCode === null && signal === null ? 'running' : `exited (${exitCode ?? signal})`}; its last output:\n${text.slice(-4000)}`);
    }
    throw err;
  } finally {
    for (const r of started) await r.stop().catch(() => undefined);
    closeClient();
    await rm(base, { recursive: true, force: true });
  }
}

/** Bollard's peak RSS pushing 64 MiB, then pushing RSS_BIG, on a fresh process. */
async function rssUnderLoad(base: string): Promise<{ small: number; big: number }> {
  const reg = await startBollard(base);
  try {
    const f64 = await makeRandomFile(join(base, 'rss64.bin'), 64 * MiB);
    await w.monolithicPush(reg.url, f64, 'bench/rss');
    const atSmall = (await peakRss(reg.pid)) / 1e6;
    await rm(f64.path);
    const fBig = await makeRandomFile(join(base, 'rssbig.bin'), RSS_BIG);
    await w.monolithicPush(reg.url, fBig, 'bench/rss');
    const atBig = (await peakRss(reg.pid)) / 1e6;
    await rm(fBig.path);
    rows.push({ workload: 'bollard peak RSS pushing 64 MiB', unit: 'MB', bollard: atSmall, distribution: null });
    rows.push({ workload: `bollard peak RSS pushing ${RSS_BIG / MiB} MiB`, unit: 'MB', bollard: atBig, distribution: null });
    return { small: atSmall, big: atBig };
  } finally {
    await reg.stop();
  }
}

interface Summary {
  diskRate: number;
  mono: Row;
  chunked: Row;
  cold: Row | null;
  warm: Row;
  mget: Row;
  tags: Row;
  peaks: Row;
  rss: { small: number; big: number };
  concurrent: Row;
  concurrentRss: number;
  tagPushes: Row;
}

function report(s: Summary): void {
  const fmt = (v: number | null) => (v === null ? '' : v >= 100 ? v.toFixed(0) : v.toFixed(2));
  const lines = ['| workload | unit | Bollard | distribution 2.8.2 | ratio |', '| --- | --- | ---: | ---: | ---: |'];
  for (const r of rows) {
    const ratio = r.distribution ? (r.unit === 'ms' || r.unit === 'MB' ? r.distribution / r.bollard : r.bollard / r.distribution) : null;
    const rounds = r.rounds ? `rounds ${r.rounds.map((v) => v.map((x) => x.toFixed(0)).join('/')).join(' vs ')}` : '';
    const extra = [r.note, rounds].filter(Boolean).join('; ');
    lines.push(`| ${r.workload}${extra ? ` (${extra})` : ''} | ${r.unit} | ${fmt(r.bollard)} | ${fmt(r.distribution)} | ${ratio ? `${ratio.toFixed(2)}×` : ''} |`);
  }
  const ratio = (r: Row) => (r.distribution ? r.bollard / r.distribution : 0);
  const targets = [
    ['monolithic push ≥ 1.5× distribution', ratio(s.mono) >= 1.5, `${ratio(s.mono).toFixed(2)}×`],
    ['monolithic push ≥ 0.8× the best durable write rate of the disk', s.mono.bollard >= 0.8 * s.diskRate, `${(s.mono.bollard / s.diskRate).toFixed(2)}× (${s.diskRate.toFixed(0)} MB/s)`],
    ['chunked push ≥ 0.9× Bollard monolithic', s.chunked.bollard >= 0.9 * s.mono.bollard, `${(s.chunked.bollard / s.mono.bollard).toFixed(2)}×`],
    ['32 concurrent pushes ≥ 1.5× distribution', ratio(s.concurrent) >= 1.5, `${ratio(s.concurrent).toFixed(2)}×`],
    ['peak RSS through 32 concurrent pushes ≤ 200 MB', s.concurrentRss <= 200, `${s.concurrentRss.toFixed(0)} MB`],
    ...(s.cold ? ([['pull from the disk ≥ 1.2× distribution', ratio(s.cold) >= 1.2, `${ratio(s.cold).toFixed(2)}×`]] as const) : []),
    ['pull from the page cache ≥ 1.2× distribution', ratio(s.warm) >= 1.2, `${ratio(s.warm).toFixed(2)}×`],
    ['tag pushes ≥ 1.5× distribution', ratio(s.tagPushes) >= 1.5, `${ratio(s.tagPushes).toFixed(2)}×`],
    ['manifest GET by tag ≥ 4× distribution', ratio(s.mget) >= 4, `${ratio(s.mget).toFixed(2)}×`],
    ['tags/list page ≤ 20 ms p50', s.tags.bollard <= 20, `${s.tags.bollard.toFixed(1)} ms`],
    [`peak RSS pushing ${RSS_BIG / MiB} MiB ≤ 1.3× pushing 64 MiB`, s.rss.big <= 1.3 * s.rss.small, `${(s.rss.big / s.rss.small).toFixed(2)}×`],
    [`peak RSS pushing ${RSS_BIG / MiB} MiB ≤ 200 MB`, s.rss.big <= 200, `${s.rss.big.toFixed(0)} MB`],
  ] as const;
  lines.push('', '| target | result | met |', '| --- | --- | --- |');
  for (const [name, ok, value] of targets) lines.push(`| ${name} | ${value} | ${ok ? 'yes' : 'NO'} |`);
  const client = process.env.BENCH_CLIENT === 'sendfile' ? 'sendfile client (transfer.py)' : 'node:http client';
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${client}`;
  const text = `Bollard vs distribution 2.8.2, ${new Date().toISOString().slice(0, 10)}, ${machine}\n\n${lines.join('\n')}\n`;
  process.stdout.write(`\n${text}`);
  const dir = new URL('./results/', import.meta.url);
  mkdir(dir, { recursive: true })
    .then(() => writeFile(new URL(`bench-${Date.now()}.json`, dir), JSON.stringify({ date: new Date().toISOString(), machine, rows, targets }, null, 2)))
    .catch((err: unknown) => log(`could not write JSON: ${String(err)}`));
}

await main();
