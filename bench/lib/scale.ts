// How throughput scales with replicas: 1 vs 2 `bollard serve` processes on one
// PostgreSQL and one data directory, same total client concurrency.
import autocannon from 'autocannon';
import type { DataFile } from './files.ts';
import { startBollard } from './servers.ts';
import * as w from './workloads.ts';

export interface ScaleResult {
  getOne: number;
  getTwo: number;
  pushOne: number;
  pushTwo: number;
}

async function getRate(urls: string[], seconds: number): Promise<number> {
  const per = 16 / urls.length;
  const results = await Promise.all(
    urls.map((u) => autocannon({ url: `${u}/v2/bench/scale/manifests/latest`, connections: per, duration: seconds, headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } })),
  );
  return results.reduce((a, r) => a + r.requests.average, 0);
}

async function pushRate(urls: string[], files: DataFile[]): Promise<number> {
  const total = files.reduce((a, f) => a + f.size, 0);
  const t0 = process.hrtime.bigint();
  await Promise.all(files.map((f, i) => w.monolithicPush(urls[i % urls.length] as string, f, `bench/scale${i % 4}`)));
  return total / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e6;
}

export async function measureScaling(base: string, seconds: number): Promise<ScaleResult> {
  const first = await startBollard(base);
  const second = await startBollard(base, {}, first);
  try {
    await w.pushImage(first.url, 'bench/scale', 'latest');
    const files = await w.makeFiles(base, 16, 16 * 1024 * 1024);
    const getOne = await getRate([first.url], seconds);
    const getTwo = await getRate([first.url, second.url], seconds);
    const pushOne = await pushRate([first.url], files);
    const pushTwo = await pushRate([first.url, second.url], files);
    return { getOne, getTwo, pushOne, pushTwo };
  } finally {
    await second.stop();
    await first.stop();
  }
}
