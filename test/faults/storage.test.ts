// Storage faults, on the real `bollard serve` over TCP. A full disk (an ext4 loop
// device, where uploads are staged with O_DIRECT, and a tmpfs written through the
// page cache) answers 507 INSUFFICIENT_STORAGE to a monolithic upload, a chunk, a
// last chunk and a completion; a full S3 bucket (a quota) does the same. An S3 that
// is down, answers 500s or never answers gets 503 UNAVAILABLE with Retry-After
// within seconds. Either way nothing is half-written: no staged file left by a
// failed upload, sessions still at their offsets, no blob row without its bytes and
// no partial object; once there is room, or S3 is back, the same sessions finish
// and pushes work again without a restart.
import { readFile, readdir, access } from 'node:fs/promises';
import { join } from 'node:path';
import { createPool, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { blake3Hex } from '../../src/digest/blake3.ts';
import { createTestDatabase } from '../support/db.ts';
import { emptyConfig, imageManifest, randomBlob, type Blob } from '../support/fixtures.ts';
import { rowCounts } from '../support/rows.ts';
import { startServer, type ServerProcess } from '../support/server.ts';
import { errorLines, expectIntact } from './integrity.ts';
import { Client, expectRefused } from './storage-client.ts';
import { canMount, fill, filesIn, mountExt4, mountTmpfs, unfill, unmountAll, type SmallFs } from './storage-mounts.ts';
import { faultBucket, startFaultyS3, type FaultBucket, type FaultyS3, type Outage } from './storage-s3.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const ci = process.env.CI === 'true' || process.env.CI === '1';
const cleanups: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await unmountAll();
});

function figures(what: string, data: Record<string, unknown>): void {
  process.stderr.write(`[faults/storage] ${what}: ${JSON.stringify(data)}\n`);
}

/** A blob whose object directory (blobs/blake3/<2 hex>/) does not exist yet, so completing it must create one. */
async function blobInNewDirectory(dataDir: string, size: number): Promise<Blob> {
  for (;;) {
    const b = randomBlob(size);
    const dir = join(dataDir, 'storage', 'blobs', 'blake3', blake3Hex(b.data).slice(0, 2));
    if (await access(dir).then(() => false, () => true)) return b;
  }
}

/** Every object file holds exactly the bytes its name promises (a partial object would not). */
async function expectObjectsWhole(dataDir: string): Promise<number> {
  const root = join(dataDir, 'storage', 'blobs', 'blake3');
  let n = 0;
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    expect(blake3Hex(await readFile(join(e.parentPath, e.name))), e.name).toBe(e.name);
    n += 1;
  }
  return n;
}

async function pool(server: ServerProcess): Promise<DatabasePool> {
  const p = await createPool(server.databaseUrl, { maximumPoolSize: 1 });
  cleanups.push(() => p.end());
  return p;
}

const mountProblem = await canMount();

describe.skipIf(mountProblem !== null && !ci)('a full disk (filesystem storage)', () => {
  test('mounting small file systems works here', () => {
    expect(mountProblem).toBeNull();
  });

  async function fullDisk(fsys: SmallFs, env: Record<string, string>, restartWhileFull: boolean): Promise<void> {
    const dataDir = join(fsys.root, 'data');
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    let server = await startServer({ reuse: { dataDir, db }, env });
    cleanups.push(() => server.stop());
    let c = new Client(server.url, 'faults/full');
    const rows = await pool(server);
    const uploads = join(dataDir, 'storage', 'uploads');
    const kept = await c.pushImage('kept');

    // Prepared while there is room: a session with its first chunk, one with all its bytes.
    const chunked = randomBlob(3 * MiB);
    const first = 256 * KiB;
    const s1 = await c.open();
    expect((await c.patch(s1, chunked.data.subarray(0, first), 0)).status).toBe(202);
    const staged = await blobInNewDirectory(dataDir, MiB);
    const s2 = await c.open();
    expect((await c.patch(s2, staged.data, 0)).status).toBe(202);
    const mono = randomBlob(3 * MiB);

    // Room for less than any of the bodies: each write fails part-way.
    await fill(fsys, MiB);
    const stagedBefore = await filesIn(uploads);
    const rowsBefore = await rowCounts(rows);
    const seen = {
      monolithic: await c.monolithic(mono),
      chunk: await c.patch(s1, chunked.data.subarray(first), first),
      lastChunk: await c.put(s1, chunked.digest, { data: chunked.data.subarray(first), start: first }),
    };
    expectRefused(seen.monolithic, 507, 'monolithic POST');
    expectRefused(seen.chunk, 507, 'PATCH');
    expectRefused(seen.lastChunk, 507, 'PUT with a last chunk');
    expect(await c.offset(s1)).toBe(first);
    // no staging of the monolithic upload, and s1's file given back to its offset at once
    expect(await filesIn(uploads)).toEqual(stagedBefore);
    expect(Object.values(stagedBefore).sort()).toEqual([first, MiB].sort());
    await c.expectPulls(kept);
    // manifests live in PostgreSQL: pushing one needs no room in the blob store
    expect((await c.putManifest('while-full', imageManifest(emptyConfig, [kept]))).status).toBe(201);

    // Not a byte left (on tmpfs, not an inode either): completing must create the object's directory.
    await fill(fsys, 0, fsys.kind === 'tmpfs');
    const completion = await c.put(s2, staged.digest);
    expectRefused(completion, 507, 'PUT completing an upload');
    expect(await c.offset(s2)).toBe(staged.size);
    if (fsys.kind === 'tmpfs') expectRefused(await c.openSeen(), 507, 'POST opening a session (no inode left)');
    expect((await c.pull(mono.digest)).status).toBe(404);
    expect((await c.pull(staged.digest)).status).toBe(404);
    await c.expectPulls(kept);
    expect({ ...(await rowCounts(rows)), manifests: 0, tags: 0 }).toEqual({ ...rowsBefore, manifests: 0, tags: 0 });
    if (restartWhileFull) {
      await server.stop();
      server = await startServer({ reuse: { dataDir, db }, env });
      c = new Client(server.url, 'faults/full');
      await c.expectPulls(kept);
    }

    // Room again: the same sessions continue where they stopped, without a restart.
    await unfill(fsys);
    expect((await c.patch(s1, chunked.data.subarray(first, first + MiB), first)).status).toBe(202);
    expect((await c.put(s1, chunked.digest, { data: chunked.data.subarray(first + MiB), start: first + MiB })).status).toBe(201);
    expect((await c.put(s2, staged.digest)).status).toBe(201);
    expect((await c.monolithic(mono)).status).toBe(201);
    for (const b of [kept, chunked, staged, mono]) await c.expectPulls(b);

    expect(await filesIn(uploads)).toEqual({});
    const objects = await expectObjectsWhole(dataDir);
    await expectIntact(server);
    expect(errorLines(server)).toEqual([]);
    await server.stop();
    figures(`full ${fsys.kind}`, { env, ...Object.fromEntries(Object.entries({ ...seen, completion }).map(([k, s]) => [k, `${s.status} ${s.codes.join()} ${s.ms} ms`])), objects });
  }

  test.skipIf(mountProblem !== null)('ext4 on a loop device (O_DIRECT staging), restarted while full', async () => {
    await fullDisk(await mountExt4(32), {}, true);
  });

  test.skipIf(mountProblem !== null)('tmpfs, staged through the page cache', async () => {
    await fullDisk(await mountTmpfs(16, 200), { BOLLARD_FS_DIRECT_IO: 'false' }, false);
  });
});

const s3 = inject('s3');

describe.skipIf(!s3)('S3 unreachable, failing or full', () => {
  let proxy: FaultyS3;
  let bucket: FaultBucket;
  let server: ServerProcess;
  let rows: DatabasePool;
  let env: Record<string, string>;

  beforeAll(async () => {
    const target = s3 as NonNullable<typeof s3>;
    proxy = await startFaultyS3(target.endpoint);
    cleanups.push(() => proxy.close());
    bucket = await faultBucket(target);
    cleanups.push(() => bucket.destroy());
    env = {
      BOLLARD_STORAGE: 's3',
      BOLLARD_S3_ENDPOINT: proxy.endpoint,
      BOLLARD_S3_BUCKET: bucket.bucket,
      BOLLARD_S3_REGION: target.region,
      BOLLARD_S3_FORCE_PATH_STYLE: 'true',
      BOLLARD_S3_PREFIX: bucket.prefix,
      BOLLARD_S3_PART_SIZE_MB: '5',
      AWS_ACCESS_KEY_ID: target.accessKeyId,
      AWS_SECRET_ACCESS_KEY: target.secretAccessKey,
    };
    server = await startServer({ env });
    cleanups.push(() => server.destroy());
    rows = await pool(server);
  });

  /** Nothing but committed objects under the prefix: no staging, no open multipart upload. */
  async function expectOnlyObjects(): Promise<void> {
    const left = await bucket.contents();
    expect(left.filter((k) => !k.startsWith('blobs/'))).toEqual([]);
    await expectIntact({ ...server, storageEnv: env });
    expect(errorLines(server)).toEqual([]);
  }

  test('down, answering 500, or silent: uploads, chunks, completions and pulls get 503 with Retry-After within seconds', async () => {
    const c = new Client(server.url, 'faults/s3');
    const kept = await c.pushImage('kept');
    const report: Record<string, unknown> = {};
    for (const mode of ['down', 'error500', 'hang'] satisfies Outage[]) {
      const done = randomBlob(300 * KiB);
      const sDone = await c.open();
      expect((await c.patch(sDone, done.data, 0)).status).toBe(202);
      const [chunked, last] = [randomBlob(200 * KiB), randomBlob(200 * KiB)];
      const [sChunk, sLast] = [await c.open(), await c.open()];
      for (const [s, b] of [[sChunk, chunked], [sLast, last]] as const) expect((await c.patch(s, b.data.subarray(0, 100 * KiB), 0)).status).toBe(202);
      const mono = randomBlob(100 * KiB);
      const rowsBefore = await rowCounts(rows);

      await proxy.set(mode);
      const [monolithic, chunk, lastChunk, completion, pull] = await Promise.all([
        c.monolithic(mono),
        c.patch(sChunk, chunked.data.subarray(100 * KiB), 100 * KiB),
        c.put(sLast, last.digest, { data: last.data.subarray(100 * KiB), start: 100 * KiB }),
        c.put(sDone, done.digest),
        c.pull(kept.digest),
      ]);
      const seen = { monolithic, chunk, lastChunk, completion, pull };
      for (const [what, s] of Object.entries(seen)) {
        expectRefused(s, 503, `${mode}: ${what}`);
        expect(s.ms, `${mode}: ${what}`).toBeLessThan(10_000);
      }
      // manifests live in PostgreSQL: one whose blobs are all stored can still be pushed
      expect((await c.putManifest(`during-${mode}`, imageManifest(emptyConfig, [kept]))).status).toBe(201);
      expect({ ...(await rowCounts(rows)), manifests: 0, tags: 0 }).toEqual({ ...rowsBefore, manifests: 0, tags: 0 });
      report[mode] = Object.fromEntries(Object.entries(seen).map(([k, s]) => [k, `${s.status} ${s.codes.join()} ${s.ms} ms`]));

      await proxy.set('up');
      expect([await c.offset(sChunk), await c.offset(sLast), await c.offset(sDone)]).toEqual([100 * KiB, 100 * KiB, done.size]);
      expect((await c.patch(sChunk, chunked.data.subarray(100 * KiB), 100 * KiB)).status).toBe(202);
      expect((await c.put(sChunk, chunked.digest)).status).toBe(201);
      expect((await c.put(sLast, last.digest, { data: last.data.subarray(100 * KiB), start: 100 * KiB })).status).toBe(201);
      expect((await c.put(sDone, done.digest)).status).toBe(201);
      expect((await c.monolithic(mono)).status).toBe(201);
      for (const b of [kept, chunked, last, done, mono]) await c.expectPulls(b);
    }
    await expectOnlyObjects();
    figures('s3 outage', report);
  });

  test('full (a bucket quota): uploads, chunks and completions get 507; once there is room the same sessions finish', async (ctx) => {
    if (!bucket.setQuota) ctx.skip(); // an S3 server of the caller's: no admin access to give it a quota
    const setQuota = bucket.setQuota as NonNullable<FaultBucket['setQuota']>;
    const c = new Client(server.url, 'faults/s3-full');
    const kept = await c.pushImage('kept');
    const staged = randomBlob(5 * MiB);
    const sDone = await c.open();
    expect((await c.patch(sDone, staged.data, 0)).status).toBe(202);
    const sChunk = await c.open();
    const chunk = randomBlob(4 * MiB);
    const big = randomBlob(12 * MiB);
    await setQuota(8 * MiB); // 5 MiB staged; the copy to its final key needs 5 more
    try {
      const seen = {
        monolithic: await c.monolithic(big),
        chunk: await c.patch(sChunk, chunk.data, 0),
        completion: await c.put(sDone, staged.digest),
      };
      for (const [what, s] of Object.entries(seen)) expectRefused(s, 507, `quota: ${what}`);
      expect([await c.offset(sChunk), await c.offset(sDone)]).toEqual([0, staged.size]);
      expect((await c.pull(big.digest)).status).toBe(404);
      await c.expectPulls(kept);
      figures('s3 full', Object.fromEntries(Object.entries(seen).map(([k, s]) => [k, `${s.status} ${s.codes.join()} ${s.ms} ms`])));
    } finally {
      await setQuota(null);
    }
    expect((await c.put(sDone, staged.digest)).status).toBe(201);
    expect((await c.patch(sChunk, chunk.data, 0)).status).toBe(202);
    expect((await c.put(sChunk, chunk.digest)).status).toBe(201);
    expect((await c.monolithic(big)).status).toBe(201);
    for (const b of [kept, staged, chunk, big]) await c.expectPulls(b);
    await expectOnlyObjects();
  });
});
