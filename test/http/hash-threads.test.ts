// Uploads hash on worker threads by default (src/digest/hash-pool.ts); with
// hashThreads 0 they hash on the main thread. Both must store the same blobs.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { binaryParser } from '../support/client.ts';
import { blob, sha512 } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';

const MiB = 1 << 20;

describe.each([0, 2])('hashThreads %i', (hashThreads) => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await createTestRegistry({ hashThreads });
  });
  afterAll(() => reg.close());

  async function pulled(repo: string, digest: string): Promise<Buffer> {
    const res = await request(reg.app).get(`/v2/${repo}/blobs/${digest}`).buffer(true).parse(binaryParser);
    expect(res.status).toBe(200);
    return res.body as Buffer;
  }

  test('a monolithic push of 3 MiB + 1 byte', async () => {
    const b = blob(randomBytes(3 * MiB + 1));
    await request(reg.app).post(`/v2/threads/mono/blobs/uploads/?digest=${b.digest}`).set('Content-Type', 'application/octet-stream').send(b.data).expect(201);
    expect(Buffer.compare(await pulled('threads/mono', b.digest), b.data)).toBe(0);
  });

  test('chunks that end inside the hashing slots, then a SHA-512 digest on PUT', async () => {
    const data = randomBytes(4 * MiB + 777);
    const res = await request(reg.app).post('/v2/threads/chunked/blobs/uploads/').expect(202);
    let loc = res.headers.location as string;
    const cuts = [0, 1000, 1.5 * MiB, 3 * MiB + 5, data.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const [a, z] = [cuts[i] as number, cuts[i + 1] as number];
      const r = await request(reg.app).patch(loc).set('Content-Range', `${a}-${z - 1}`).set('Content-Type', 'application/octet-stream').send(data.subarray(a, z));
      expect(r.status).toBe(202);
      loc = r.headers.location as string;
    }
    const digest = sha512(data);
    await request(reg.app).put(`${loc}?digest=${digest}`).expect(201);
    expect(Buffer.compare(await pulled('threads/chunked', digest), data)).toBe(0);
  });

  test('a wrong digest after chunks is DIGEST_INVALID', async () => {
    const res = await request(reg.app).post('/v2/threads/wrong/blobs/uploads/').expect(202);
    const r = await request(reg.app).patch(res.headers.location as string).set('Content-Type', 'application/octet-stream').send(randomBytes(2 * MiB)).expect(202);
    const put = await request(reg.app).put(`${r.headers.location as string}?digest=${blob('other').digest}`);
    expect(put.status).toBe(400);
    expect(put.body.errors[0].code).toBe('DIGEST_INVALID');
  });
});
