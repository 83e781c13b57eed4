// `node bench/proxy-flight.ts`: the pull-through cache's single-flight (docs/proxy.md).
// Two `bollard serve` replicas on one database and data directory, whose upstream
// is distribution 2.8.2 on loopback. In the same run, with the same blob size:
//   - one client pulls an uncached blob through the cache (for reference);
//   - flight: CLIENTS clients pull another uncached blob at once, half through
//     each replica (one fetches, the others follow it);
//   - baseline: the same CLIENTS clients pull that blob again, now cached.
// Reports the wall times, the flight's ratio to the baseline, and the bytes the
// replicas took from the upstream during the flight (bollard_proxy_upstream_bytes_total).
// Targets: the upstream sends the blob once (×1.00 its size), and the flight takes
// at most ×1.5 the time of the same pulls served from the cache.
//
// Knobs (env): BENCH_FLIGHT_MIB (256), BENCH_FLIGHT_CLIENTS (4), BENCH_DIR (os tmpdir).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { closeClient, pull, pushMonolithic } from './lib/client.ts';
import { makeRandomFile } from './lib/files.ts';
import { benchBaseDir, startBollard, startDistribution, type Registry } from './lib/servers.ts';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_FLIGHT_MIB ?? 256) * MiB;
const CLIENTS = Number(process.env.BENCH_FLIGHT_CLIENTS ?? 4);
const log = (msg: string) => process.stderr.write(`[bench:flight] ${msg}\n`);

async function upstreamBytes(r: Registry): Promise<number> {
  const text = await (await fetch(`${r.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('bollard_proxy_upstream_bytes_total{'));
  return Number(line?.split(' ')[1] ?? 0);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

const base = await benchBaseDir();
const servers: Registry[] = [];
try {
  const upstream = await startDistribution(base);
  servers.push(upstream);
  const [single, shared] = [await makeRandomFile(join(base, 'single.bin'), SIZE), await makeRandomFile(join(base, 'shared.bin'), SIZE)];
  for (const f of [single, shared]) await pushMonolithic(upstream.url, 'team/app', f);
  const env = { BOLLARD_PROXY: `up=${upstream.url}`, ...(process.env.BENCH_FLIGHT_DIRECT_IO ? { BOLLARD_FS_DIRECT_IO: process.env.BENCH_FLIGHT_DIRECT_IO } : {}) };
  const one = await startBollard(base, env);
  servers.push(one);
  const two = await startBollard(base, env, one);
  servers.unshift(two); // stopped first: it leaves the data directory to the first
  log(`baseline: 1 client, ${SIZE / MiB} MiB uncached`);
  const alone = await timed(() => pull(one.url, 'up/team/app', single.digest));
  const before = (await upstreamBytes(one)) + (await upstreamBytes(two));
  log(`flight: ${CLIENTS} clients on 2 replicas, ${SIZE / MiB} MiB uncached`);
  const t0 = performance.now();
  const together = await timed(() => Promise.all(Array.from({ length: CLIENTS }, (_, i) => pull((i % 2 === 0 ? one : two).url, 'up/team/app', shared.digest).then(() => log(`client ${i} done at ${((performance.now() - t0) / 1000).toFixed(2)} s`)))));
  const fetched = (await upstreamBytes(one)) + (await upstreamBytes(two)) - before;
  log(`baseline: the same ${CLIENTS} clients, now cached`);
  const cached = await timed(() => Promise.all(Array.from({ length: CLIENTS }, (_, i) => pull((i % 2 === 0 ? one : two).url, 'up/team/app', shared.digest))));
  const ratio = together / cached;
  const once = fetched / SIZE;
  const rate = (t: number, n: number) => `${((n * SIZE) / MiB / t).toFixed(0)} MiB/s to clients`;
  console.log(`1 uncached pull                      ${alone.toFixed(2)} s (${rate(alone, 1)})`);
  console.log(`${CLIENTS} concurrent uncached pulls (flight) ${together.toFixed(2)} s (${rate(together, CLIENTS)})`);
  console.log(`${CLIENTS} concurrent cached pulls (baseline) ${cached.toFixed(2)} s (${rate(cached, CLIENTS)})`);
  console.log(`flight / baseline ×${ratio.toFixed(2)}; upstream bytes during the flight ×${once.toFixed(2)} the blob`);
  console.log(`target: upstream sends the blob once (×1.00): ${Math.abs(once - 1) < 0.001 ? 'met' : 'NOT met'}`);
  console.log(`target: the flight at most ×1.5 the cached pulls: ${ratio <= 1.5 ? 'met' : 'NOT met'}`);
} finally {
  closeClient();
  for (const s of servers) await s.stop().catch(() => undefined);
  await rm(base, { recursive: true, force: true });
}
