// S3 benchmark: push and pull of one large blob through Bollard's S3 driver and
// through distribution 2.8.2's S3 driver, both against the same Ceph RADOS
// Gateway, in the same run. Each round pushes a fresh random file to both (the
// order alternates) and pulls it back; the medians are reported.
//
//   node bench/s3/run.ts        knobs: BENCH_SIZE_MIB (1024), BENCH_ROUNDS (3), BENCH_DIR
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { closeClient } from '../lib/client.ts';
import { makeRandomFile } from '../lib/files.ts';
import { benchBaseDir, ensureBenchTools, startBollard, type Registry } from '../lib/servers.ts';
import * as w from '../lib/workloads.ts';
import { freePort } from '../../test/support/ports.ts';
import { bollardS3Env, createBucket, deleteBucket, distributionS3Config, startCeph, type S3Server } from './ceph.ts';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_SIZE_MIB ?? 1024) * MiB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const log = (msg: string) => process.stderr.write(`[bench/s3] ${msg}\n`);

async function startDistributionS3(base: string, s3: S3Server, bucket: string): Promise<Registry> {
  ensureBenchTools();
  const port = await freePort();
  const config = join(base, 'distribution-s3.yml');
  await writeFile(config, distributionS3Config(s3, bucket, port));
  // The Go SDK refuses a custom CA bundle with distribution's transport; the gateway is plain HTTP anyway.
  const { AWS_CA_BUNDLE: _unused, ...env } = process.env;
  const child = spawn('/usr/bin/docker-registry', ['serve', config], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error('distribution exited');
    if ((await fetch(`${url}/v2/`).then((r) => r.status, () => 0)) === 200) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const stop = async () => {
    if (child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  };
  return { name: 'distribution', url, pid: child.pid as number, dataDir: base, stop };
}

/** Downloads a blob following one redirect (node:http both hops, like the proxied pull); returns MB/s. */
async function pullFollowing(base: string, repo: string, digest: string, size: number): Promise<number> {
  const get = (url: string) =>
    new Promise<{ status: number; location?: string; bytes: number }>((resolve, reject) => {
      request(url, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, bytes }));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
  const t0 = performance.now();
  const first = await get(`${base}/v2/${repo}/blobs/${digest}`);
  if (first.status !== 307 || !first.location) throw new Error(`expected a redirect, got ${first.status}`);
  const second = await get(first.location);
  if (second.bytes !== size) throw new Error(`pulled ${second.bytes} bytes`);
  return size / ((performance.now() - t0) / 1000) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  const s3 = startCeph();
  const base = await benchBaseDir();
  const run = Date.now().toString(36);
  const started: Registry[] = [];
  try {
    await createBucket(s3, `bench-bollard-${run}`);
    await createBucket(s3, `bench-distribution-${run}`);
    const bollard = await startBollard(base, bollardS3Env(s3, `bench-bollard-${run}`));
    started.push(bollard);
    // a second process on the same database and bucket, answering blob GETs with 307 to S3
    const redirecting = await startBollard(base, { ...bollardS3Env(s3, `bench-bollard-${run}`), BOLLARD_S3_REDIRECT: 'true' }, bollard);
    started.push(redirecting);
    const distribution = await startDistributionS3(base, s3, `bench-distribution-${run}`);
    started.push(distribution);
    const redirected: number[] = [];
    const results: Record<string, { push: number[]; pull: number[] }> = { bollard: { push: [], pull: [] }, distribution: { push: [], pull: [] } };
    for (let round = 0; round < ROUNDS; round++) {
      const file = await makeRandomFile(join(base, `blob-${round}.bin`), SIZE);
      const order = round % 2 === 0 ? [bollard, distribution] : [distribution, bollard];
      for (const r of order) {
        const push = await w.monolithicPush(r.url, file, 'bench/s3');
        const pull = await w.pullBlob(r.url, file, 'bench/s3');
        results[r.name]?.push.push(push);
        results[r.name]?.pull.push(pull);
        log(`round ${round + 1} ${r.name}: push ${push.toFixed(0)} MB/s, pull ${pull.toFixed(0)} MB/s`);
      }
      redirected.push(await pullFollowing(redirecting.url, 'bench/s3', file.digest, file.size));
      log(`round ${round + 1} bollard, BOLLARD_S3_REDIRECT=true: pull ${redirected.at(-1)?.toFixed(0)} MB/s`);
      await rm(file.path);
    }
    const b = results.bollard as { push: number[]; pull: number[] };
    const d = results.distribution as { push: number[]; pull: number[] };
    const rows = [
      ['push', median(b.push), median(d.push)],
      ['pull', median(b.pull), median(d.pull)],
    ] as const;
    process.stdout.write(`\n| ${SIZE / MiB} MiB blob, S3 (Ceph RGW), median of ${ROUNDS} | Bollard MB/s | distribution 2.8.2 MB/s | ratio |\n|---|---|---|---|\n`);
    for (const [what, bv, dv] of rows) process.stdout.write(`| ${what} | ${bv.toFixed(0)} | ${dv.toFixed(0)} | ${(bv / dv).toFixed(2)}x |\n`);
    process.stdout.write(`| pull, Bollard with BOLLARD_S3_REDIRECT=true (307 to a presigned URL) | ${median(redirected).toFixed(0)} | ${median(d.pull).toFixed(0)} (redirect disabled) | ${(median(redirected) / median(d.pull)).toFixed(2)}x |\n`);
    process.stdout.write(`\nall rounds: ${JSON.stringify({ ...results, redirected })}\n`);
  } finally {
    for (const r of started.reverse()) await r.stop().catch(() => undefined);
    closeClient();
    await rm(base, { recursive: true, force: true });
    for (const b of [`bench-bollard-${run}`, `bench-distribution-${run}`]) await deleteBucket(s3, b).catch((e: unknown) => log(`cleanup of ${b}: ${String(e)}`));
  }
}

await main();
