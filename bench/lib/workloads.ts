// The workloads, each run the same way against any registry URL.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { call, pull, pushBuffer, pushChunked, pushMonolithic, putManifest } from './client.ts';
import type { DataFile } from './files.ts';
import { makeRandomFile } from './files.ts';
import { OCI_MANIFEST, ociManifest, sha256, smallConfig } from './image.ts';
import { receive, sendChunked, sendMonolithic } from './transfer.ts';


async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** MB/s (10^6 bytes) */
const rate = (bytes: number, secs: number) => bytes / secs / 1e6;

/**
 * The client of the 1 GiB transfers: node:http (the default), or with
 * BENCH_CLIENT=sendfile bench/lib/transfer.py, which costs a third of the CPU.
 */
const lean = process.env.BENCH_CLIENT === 'sendfile';

export async function monolithicPush(url: string, file: DataFile, repo = 'bench/mono'): Promise<number> {
  if (lean) return rate(file.size, (await sendMonolithic(url, repo, file)).seconds);
  return rate(file.size, await timed(() => pushMonolithic(url, repo, file)));
}

export async function chunkedPush(url: string, file: DataFile, chunk: number): Promise<number> {
  if (lean) return rate(file.size, (await sendChunked(url, 'bench/chunked', file, chunk)).seconds);
  return rate(file.size, await timed(() => pushChunked(url, 'bench/chunked', file, chunk)));
}

export async function pullBlob(url: string, file: DataFile, repo = 'bench/mono'): Promise<number> {
  let n = 0;
  let secs = 0;
  if (lean) ({ seconds: secs, bytes: n } = await receive(url, repo, file.digest));
  else secs = await timed(async () => (n = await pull(url, repo, file.digest)));
  if (n !== file.size) throw new Error(`pulled ${n} bytes, expected ${file.size}`);
  return rate(n, secs);
}

export async function concurrentPushes(url: string, files: DataFile[]): Promise<number> {
  const total = files.reduce((a, f) => a + f.size, 0);
  return rate(total, await timed(() => Promise.all(files.map((f, i) => pushMonolithic(url, `bench/concurrent${i % 4}`, f)))));
}

export async function makeFiles(dir: string, count: number, size: number): Promise<DataFile[]> {
  const out: DataFile[] = [];
  for (let i = 0; i < count; i++) out.push(await makeRandomFile(join(dir, `c${i}.bin`), size));
  return out;
}

/** Pushes a small image (config + one layer + manifest) and tags it; returns the manifest digest. */
export async function pushImage(url: string, repo: string, tag: string): Promise<{ manifest: Buffer; layerDigest: string }> {
  const config = smallConfig();
  const layer = randomBytes(4096);
  await pushBuffer(url, repo, config, sha256(config));
  await pushBuffer(url, repo, layer, sha256(layer));
  const manifest = ociManifest(config, [{ digest: sha256(layer), size: layer.length }]);
  await putManifest(url, repo, tag, manifest, OCI_MANIFEST);
  return { manifest, layerDigest: sha256(layer) };
}

/** Requests per second over 16 keep-alive connections (autocannon). */
export async function requestRate(url: string, headers: Record<string, string>, seconds: number): Promise<number> {
  const result = await autocannon({ url, method: 'GET', headers, connections: 16, duration: seconds, pipelining: 1 });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`GET ${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

/**
 * HEAD requests per second over 16 keep-alive connections. autocannon waits for
 * a body after a HEAD that declares Content-Length, so HEAD uses node:http,
 * which knows HEAD responses have none.
 */
export async function headRate(url: string, seconds: number): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (Date.now() < deadline) {
      const r = await call(url, 'HEAD');
      if (r.status !== 200) throw new Error(`HEAD ${url}: ${r.status}`);
      done += 1;
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 16 }, worker));
  return done / ((Date.now() - t0) / 1000);
}

/** Tags `count` tags on one manifest, `concurrency` requests at a time; `prefix` keeps rounds apart (a repeat changes nothing). */
export async function fillTags(url: string, repo: string, manifest: Buffer, count: number, concurrency = 16, prefix = 't'): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await putManifest(url, repo, `${prefix}${String(i).padStart(6, '0')}`, manifest, OCI_MANIFEST);
    }
  };
  return timed(() => Promise.all(Array.from({ length: concurrency }, worker)));
}

/** p50 latency (ms) of one tags/list page of `n` tags, starting at random positions. */
export async function tagsPageLatency(url: string, repo: string, tagCount: number, n: number, samples: number): Promise<{ p50: number; returned: number }> {
  const times: number[] = [];
  let returned = 0;
  for (let i = 0; i < samples; i++) {
    const start = Math.floor(Math.random() * Math.max(tagCount - n, 1));
    const last = `t${String(start).padStart(6, '0')}`;
    const t0 = process.hrtime.bigint();
    const r = await call(`${url}/v2/${repo}/tags/list?n=${n}&last=${last}`, 'GET');
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.status !== 200) throw new Error(`tags/list: ${r.status}`);
    returned = r.headers['content-length'] ? Number(r.headers['content-length']) : 0;
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)] as number, returned };
}
