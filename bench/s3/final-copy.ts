// The one step of an S3 push that waits on the server after the last byte: making
// the staged bytes the object at their BLAKE3 key (see src/storage/s3/assemble.ts).
// Stages a blob of BENCH_COPY_MIB (2048) through the driver and times completeUpload:
//  - one segment, CopyObject (the usual push: one PATCH or PUT);
//  - one segment, forced through parallel UploadPartCopy (64 MiB ranges, 8 at once);
//  - two segments (a push in two chunks), which must be UploadPartCopy.
//
//   node bench/s3/final-copy.ts
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { blobKey, type UploadState } from '../../src/storage/blob-store.ts';
import { s3BlobStore, type S3StorageConfig } from '../../src/storage/s3/factory.ts';
import { createBucket, deleteBucket, startCeph } from './ceph.ts';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_COPY_MIB ?? 2048) * MiB;
const log = (msg: string) => process.stderr.write(`[bench/s3 final-copy] ${msg}\n`);

/** `bytes` of data from a reused random pool (the copy's speed does not depend on the content). */
function body(bytes: number): Readable {
  const pool = randomBytes(64 * MiB);
  return Readable.from(
    (function* () {
      for (let sent = 0; sent < bytes; sent += 8 * MiB) {
        const off = (sent / (8 * MiB)) % 8;
        yield pool.subarray(off * 8 * MiB, off * 8 * MiB + Math.min(8 * MiB, bytes - sent));
      }
    })(),
  );
}

async function main(): Promise<void> {
  const s3 = startCeph();
  const bucket = `bench-copy-${Date.now().toString(36)}`;
  await createBucket(s3, bucket);
  const base: S3StorageConfig = {
    kind: 's3',
    bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    prefix: '',
    redirect: false,
    partSize: 16 * MiB,
    uploadConcurrency: 4,
    copyObjectMax: 5 * 1024 * MiB,
  };
  const cases = [
    { name: 'one segment, CopyObject', config: base, segments: 1 },
    { name: 'one segment, parallel UploadPartCopy', config: { ...base, copyObjectMax: 0 }, segments: 1 },
    { name: 'two segments, parallel UploadPartCopy', config: base, segments: 2 },
  ];
  const rows: string[] = [];
  try {
    for (const c of cases) {
      const store = s3BlobStore(c.config, s3);
      let state: UploadState = await store.startUpload(crypto.randomUUID());
      const t0 = performance.now();
      for (let i = 0; i < c.segments; i++) state = await store.appendUpload(state, body(SIZE / c.segments));
      const staged = (performance.now() - t0) / 1000;
      const key = blobKey(randomBytes(32));
      const t1 = performance.now();
      await store.completeUpload(state, key);
      const copy = (performance.now() - t1) / 1000;
      if ((await store.stat(key))?.size !== SIZE) throw new Error('wrong size after completion');
      await store.delete(key);
      log(`${c.name}: staged in ${staged.toFixed(1)} s (${(SIZE / 1e6 / staged).toFixed(0)} MB/s), completed in ${copy.toFixed(2)} s`);
      rows.push(`| ${c.name} | ${copy.toFixed(2)} s | ${(SIZE / 1e6 / staged).toFixed(0)} MB/s |`);
    }
  } finally {
    await deleteBucket(s3, bucket).catch((e: unknown) => log(`cleanup: ${String(e)}`));
  }
  process.stdout.write(`\n| completing a ${SIZE / MiB} MiB upload (Ceph RGW) | time from last byte to durable object | staging rate |\n|---|---|---|\n${rows.join('\n')}\n`);
}

await main();
