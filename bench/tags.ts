// `node bench/tags.ts`: only the tag-push workload of `npm run bench` (issue 20,
// point 4), to iterate on it without the whole bench. Bollard and distribution
// 2.8.2 as bench/run.ts starts them; each round 16 clients tag one manifest
// BENCH_FILL times in one repository, the registries alternating which goes first,
// with fresh tag names each round (re-setting a tag to the same manifest changes nothing).
//
// `--probe` also splits one tag PUT's time: one client alone (no lock waits), a manifest
// GET by tag (HTTP and routing alone), and the same on a Bollard whose PostgreSQL
// sessions do not wait for the WAL flush (synchronous_commit=off: a measurement only,
// never a way to run).
//
// Knobs (env): BENCH_FILL (3000), BENCH_ROUNDS (3), BENCH_DIR (os tmpdir).
import { closeClient, call } from './lib/client.ts';
import { benchBaseDir, startBollard, startDistribution, type Registry } from './lib/servers.ts';
import { rm } from 'node:fs/promises';
import * as w from './lib/workloads.ts';

const FILL = Number(process.env.BENCH_FILL ?? 3000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TARGET = 1.5;
const log = (msg: string) => process.stderr.write(`[tags] ${msg}\n`);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
const REPO = 'bench/tags';

/** Mean milliseconds of `count` requests made one after another. */
async function serialLatency(count: number, one: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await one(i);
  return Number(process.hrtime.bigint() - t0) / 1e6 / count;
}

async function probe(r: Registry, manifest: Buffer, label: string, key: string): Promise<void> {
  const accept = 'application/vnd.oci.image.manifest.v1+json';
  const get = await serialLatency(300, async () => {
    const res = await call(`${r.url}/v2/${REPO}/manifests/latest`, 'GET', { headers: { Accept: accept } });
    if (res.status !== 200) throw new Error(`GET: ${res.status}`);
  });
  const put = await serialLatency(300, (i) => w.fillTags(r.url, REPO, manifest, 1, 1, `p${key}${i}-`));
  const secs = await w.fillTags(r.url, REPO, manifest, 1000, 16, `q${key}`);
  log(`${label}: GET by tag ${get.toFixed(2)} ms; tag PUT alone ${put.toFixed(2)} ms; 16 clients ${(1000 / secs).toFixed(0)} tags/s, ${((secs * 1000 * 16) / 1000).toFixed(2)} ms a PUT`);
}

async function main(): Promise<void> {
  const base = await benchBaseDir();
  const started: Registry[] = [];
  try {
    const bollard = await startBollard(base);
    started.push(bollard);
    const distribution = await startDistribution(base);
    started.push(distribution);
    const regs = [bollard, distribution];
    const manifests = new Map<string, Buffer>();
    for (const r of regs) manifests.set(r.name, (await w.pushImage(r.url, REPO, 'latest')).manifest);
    if (process.argv.includes('--probe')) {
      for (const r of regs) await probe(r, manifests.get(r.name) as Buffer, r.name, r.name.slice(0, 1));
      const nosync = await startBollard(base, { PGOPTIONS: '-c synchronous_commit=off' });
      started.push(nosync);
      await probe(nosync, (await w.pushImage(nosync.url, REPO, 'latest')).manifest, 'bollard, synchronous_commit=off', 'n');
    }
    const rounds: number[][] = [[], []];
    for (let round = 0; round < ROUNDS; round++) {
      for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
        const r = regs[i] as Registry;
        const secs = await w.fillTags(r.url, REPO, manifests.get(r.name) as Buffer, FILL, 16, `r${round}-`);
        (rounds[i] as number[]).push(FILL / secs);
        log(`round ${round + 1}/${ROUNDS}: ${r.name} ${(FILL / secs).toFixed(0)} tags/s`);
      }
    }
    const [b, d] = rounds.map(median) as [number, number];
    const ratio = b / d;
    const spread = (v: number[]) => v.map((x) => x.toFixed(0)).join('/');
    process.stdout.write(
      `tag pushes, ${FILL} per round, 16 clients, one repository: Bollard ${b.toFixed(0)} tags/s (${spread(rounds[0] as number[])}), ` +
        `distribution ${d.toFixed(0)} (${spread(rounds[1] as number[])}), ${ratio.toFixed(2)}×\n` +
        `target: tag pushes ≥ ${TARGET}× distribution: ${ratio >= TARGET ? 'met' : 'NOT met'}\n`,
    );
  } finally {
    for (const r of started) await r.stop().catch(() => undefined);
    closeClient();
    await rm(base, { recursive: true, force: true });
  }
}

await main();
