// S3 misbehaving: transient errors are retried, an outage is a prompt
// 'unavailable' (a 503 UNAVAILABLE for the client, never a hang) and leaves no
// half-committed rows; the registry works again once S3 is back.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createLogger } from '../../src/logger.ts';
import type { BlobKey } from '../../src/storage/blob-store.ts';
import { expectOciError, pushBlob } from '../support/client.ts';
import { randomBlob } from '../support/fixtures.ts';
import { freePort } from '../support/ports.ts';
import { createTestRegistry, DEFAULT_OPTIONS, type TestRegistry } from '../support/registry.ts';
import { rowCounts } from '../support/rows.ts';
import { startS3Proxy, type S3Proxy } from '../support/s3-proxy.ts';
import { s3StoreWith, testS3Client, type StoreUnderTest } from '../support/stores.ts';

const s3 = inject('s3');
const MISSING = 'a'.repeat(64) as BlobKey;

describe.skipIf(!s3)('S3 failures', () => {
  let proxy: S3Proxy;
  let sut: StoreUnderTest;
  beforeAll(async () => {
    proxy = await startS3Proxy(s3?.endpoint as string);
    // short timeouts and few attempts, so an outage is decided in a few seconds
    const client = testS3Client(s3 as NonNullable<typeof s3>, { endpoint: proxy.endpoint, idleTimeoutMs: 500, connectTimeoutMs: 500, maxAttempts: 3 });
    sut = s3StoreWith('outage', {}, client);
  });
  afterAll(async () => {
    await sut?.destroy();
    await proxy?.close();
  });

  test('transient 503 SlowDown replies are retried and the operation succeeds', async () => {
    proxy.mode = 'up';
    const before = proxy.failures;
    proxy.failNext(2);
    let state = await sut.store.startUpload(crypto.randomUUID());
    state = await sut.store.appendUpload(state, Readable.from([randomBytes(1000)]));
    expect(proxy.failures - before).toBe(2);
    await sut.store.abortUpload(state);
    expect(await sut.contents()).toEqual([]);
  });

  for (const mode of ['slowdown', 'reset', 'hang'] as const) {
    test(`an outage (${mode}) is 'unavailable' within seconds, for reads and writes`, async () => {
      proxy.mode = mode;
      try {
        const t0 = Date.now();
        await expect(sut.store.stat(MISSING)).rejects.toMatchObject({ kind: 'unavailable' });
        await expect(sut.store.read(MISSING)).rejects.toMatchObject({ kind: 'unavailable' });
        const state = await sut.store.startUpload(crypto.randomUUID());
        await expect(sut.store.appendUpload(state, Readable.from([randomBytes(100)]))).rejects.toMatchObject({ kind: 'unavailable' });
        expect(Date.now() - t0).toBeLessThan(30_000);
      } finally {
        proxy.mode = 'up';
      }
    });
  }

  test('a store on a port where nothing listens is unavailable, not hanging', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const client = testS3Client(s3 as NonNullable<typeof s3>, { endpoint: dead, connectTimeoutMs: 500, maxAttempts: 2 });
    const { store } = s3StoreWith('dead', {}, client);
    await expect(store.stat(MISSING)).rejects.toMatchObject({ kind: 'unavailable' });
  });
});

describe.skipIf(!s3)('the registry during an S3 outage', () => {
  let proxy: S3Proxy;
  let reg: TestRegistry;
  let app: ReturnType<typeof createApp>;
  beforeAll(async () => {
    reg = await createTestRegistry();
    proxy = await startS3Proxy(s3?.endpoint as string);
    const client = testS3Client(s3 as NonNullable<typeof s3>, { endpoint: proxy.endpoint, idleTimeoutMs: 500, connectTimeoutMs: 500, maxAttempts: 3 });
    const { store } = s3StoreWith('registry-outage', {}, client);
    app = createApp({ pool: reg.pool, store, log: createLogger('silent'), options: DEFAULT_OPTIONS });
  });
  afterAll(async () => {
    await proxy?.close();
    await reg?.close();
  });

  test('pushes and pulls get 503 UNAVAILABLE, no row is half-committed, and all works again after', async () => {
    const kept = randomBlob(4000);
    await pushBlob(app, 'outage/app', kept);
    const before = await rowCounts(reg.pool);

    for (const mode of ['slowdown', 'reset', 'hang'] as const) {
      proxy.mode = mode;
      const lost = randomBlob(5000);
      expectOciError(await request(app).post(`/v2/outage/app/blobs/uploads/?digest=${lost.digest}`).set('Content-Type', 'application/octet-stream').send(lost.data), 503, 'UNAVAILABLE');
      const session = await request(app).post('/v2/outage/app/blobs/uploads/');
      expect(session.status).toBe(202);
      expectOciError(await request(app).patch(session.headers.location as string).send(lost.data), 503, 'UNAVAILABLE');
      const pull = await request(app).get(`/v2/outage/app/blobs/${kept.digest}`);
      expect(pull.status).toBe(503);
      expect(await request(app).head(`/v2/outage/app/blobs/${lost.digest}`).then((r) => r.status)).toBe(404);
      await request(app).delete(session.headers.location as string);
    }
    proxy.mode = 'up';
    const after = await rowCounts(reg.pool);
    expect({ ...after, upload_sessions: 0 }).toEqual({ ...before, upload_sessions: 0 });

    const again = randomBlob(3000);
    await pushBlob(app, 'outage/app', again);
    expect((await request(app).get(`/v2/outage/app/blobs/${kept.digest}`)).status).toBe(200);
  });
});
