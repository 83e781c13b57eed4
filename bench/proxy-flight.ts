// `node bench/proxy-flight.ts`: the pull-through cache's single-flight (docs/proxy.md).
// Two `bollard serve` replicas on one database and data directory, whose upstream
// is distribution 2.8.2 on loopback. In the same run:
//   - baseline: one client pulls an uncached blob through the cache;
//   - flight: CLIENTS clients pull another uncached blob of the same size at once,
//     half through each replica.
// Reports the wall time of each, their ratio, and the bytes the replicas took
// from the upstream during the flight (their bollard_proxy_upstream_bytes_total).
// Targets: the upstream sends the blob once (1.00× its size), and the flight takes
// at most 1.5× the single pull's time.
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
  const env = { BOLLARD_PROXY: `up=${upstream.url}` };
  const one = await startBollard(base, env);
  servers.push(one);
  const two = await startBollard(base, env, one);
  servers.unshift(two); // stopped first: it leaves the data directory to the first
  log(`baseline: 1 client, ${SIZE / MiB} MiB uncached`);
  const alone = await timed(() => pull(one.url, 'up/team/app', single.digest));
  const before = (await upstreamBytes(one)) + (await upstreamBytes(two));
  log(`flight: ${CLIENTS} clients on 2 replicas, ${SIZE / MiB} MiB uncached`);
  const together = await timed(() => Promise.all(Array.from({ length: CLIENTS }, (_, i) => pull((i % 2 === 0 ? one : two).url, 'up/team/app', shared.digest))));
  const fetched = (await upstreamBytes(one)) + (await upstreamBytes(two)) - before;
  const ratio = together / alone;
  const once = fetched / SIZE;
  console.log(`single uncached pull           ${alone.toFixed(2)} s (${(SIZE / MiB / alone).toFixed(0)} MiB/s)`);
  console.log(`${CLIENTS} concurrent uncached pulls   ${together.toFixed(2)} s (${((CLIENTS * SIZE) / MiB / together).toFixed(0)} MiB/s to clients)  ×${ratio.toFixed(2)} the single pull`);
  console.log(`upstream bytes during the flight  ×${once.toFixed(2)} the blob`);
  console.log(`target: upstream sends the blob once (×1.00): ${Math.abs(once - 1) < 0.001 ? 'met' : 'NOT met'}`);
  console.log(`target: ${CLIENTS} concurrent pulls at most ×1.5 one pull: ${ratio <= 1.5 ? 'met' : 'NOT met'}`);
} finally {
  closeClient();
  for (const s of servers) await s.stop().catch(() => undefined);
  await rm(base, { recursive: true, force: true });
}
