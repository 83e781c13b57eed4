// BOLLARD_S3_REDIRECT: blob GETs answer 307 to a presigned S3 URL, so clients
// fetch (and range) straight from S3; HEAD is still answered by the registry.
import { createHash } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createLogger } from '../../src/logger.ts';
import { pushBlob } from '../support/client.ts';
import { randomBlob } from '../support/fixtures.ts';
import { createTestRegistry, DEFAULT_OPTIONS, type TestRegistry } from '../support/registry.ts';
import { s3StoreWith, type StoreUnderTest } from '../support/stores.ts';

const s3 = inject('s3');

describe.skipIf(!s3)('S3 redirects', () => {
  let reg: TestRegistry;
  let sut: StoreUnderTest;
  let app: ReturnType<typeof createApp>;
  beforeAll(async () => {
    reg = await createTestRegistry();
    sut = s3StoreWith('redirect', { presignSeconds: 60 });
    app = createApp({ pool: reg.pool, store: sut.store, log: createLogger('silent'), options: DEFAULT_OPTIONS });
  });
  afterAll(async () => {
    await sut?.destroy();
    await reg?.close();
  });

  test('GET → 307 to a presigned URL that serves the bytes and ranges; HEAD → 200 here', async () => {
    const b = randomBlob(100_000);
    await pushBlob(app, 'redirect/app', b);
    const res = await request(app).get(`/v2/redirect/app/blobs/${b.digest}`);
    expect(res.status).toBe(307);
    expect(res.headers['docker-content-digest']).toBe(b.digest);
    const location = res.headers.location as string;
    expect(location).toContain('X-Amz-Signature=');
    const whole = Buffer.from(await (await fetch(location)).arrayBuffer());
    expect(`sha256:${createHash('sha256').update(whole).digest('hex')}`).toBe(b.digest);
    const part = await fetch(location, { headers: { Range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(b.data.subarray(10, 20))).toBe(true);
    const head = await request(app).head(`/v2/redirect/app/blobs/${b.digest}`);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(b.size));
  });
});
