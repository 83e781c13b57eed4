// An upload writer holds a lease on its session row and renews it while bytes
// flow. When the lease is lost (it expired and another request took it), the
// writer must stop writing the staged bytes at once, not at its next commit:
// otherwise two writers could interleave in the same region.
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { sql } from 'slonik';
import request from 'supertest';
import type { Express } from 'express';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createLogger } from '../../src/logger.ts';
import { blob } from '../support/fixtures.ts';
import { createTestRegistry, DEFAULT_OPTIONS, type TestRegistry } from '../support/registry.ts';

const MiB = 1024 * 1024;
let reg: TestRegistry;
let app: Express;
let server: Server;
let base: string;

beforeAll(async () => {
  reg = await createTestRegistry();
  // this test's own app, without auth in every project: a 2 s lease, renewed every 0.5 s
  app = createApp({ pool: reg.pool, store: reg.store, log: createLogger('silent'), options: { ...DEFAULT_OPTIONS, uploadLeaseSeconds: 2 } });
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await reg.close();
});

/** Sends `parts` as one PATCH body, calling `between(i)` after part i is written; resolves with the answer. */
function slowPatch(location: string, parts: Buffer[], between: (i: number) => Promise<void>): Promise<{ status: number; body: string }> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${location}`, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': total } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    void (async () => {
      for (const [i, p] of parts.entries()) {
        if (!req.write(p)) await new Promise((r) => req.once('drain', r));
        await between(i);
      }
      req.end();
    })().catch(reject);
  });
}

test('a writer whose lease is taken over stops writing before its body ends, and the session resumes from its last offset', async () => {
  const data = blob(randomBytes(6 * MiB));
  const post = await request(app).post('/v2/lease/a/blobs/uploads/');
  expect(post.status).toBe(202);
  const location = post.headers.location as string;
  const id = location.split('/').pop() as string;
  const parts = Array.from({ length: 6 }, (_, i) => data.data.subarray(i * MiB, (i + 1) * MiB));

  const answer = await slowPatch(location, parts, async (i) => {
    if (i === 1) {
      // another request took the session over, as after an expiry
      await reg.pool.query(sql.unsafe`UPDATE upload_sessions SET lease_token = gen_random_uuid() WHERE id = ${id}::uuid`);
    }
    await new Promise((r) => setTimeout(r, 400));
  });
  expect(answer.status).toBe(503);
  expect(JSON.parse(answer.body).errors[0].code).toBe('UNAVAILABLE');
  if (reg.fsRoot) {
    // the writer stopped: the last megabytes never reached the staged file
    expect((await stat(join(reg.fsRoot, 'uploads', id))).size).toBeLessThan(5 * MiB);
  }

  // nothing was recorded; once the other lease lapses the upload starts again from 0 and completes
  const status = await request(app).get(location);
  expect(status.headers.range).toBe('0-0');
  await reg.pool.query(sql.unsafe`UPDATE upload_sessions SET lease_token = NULL, lease_until = NULL WHERE id = ${id}::uuid`);
  const put = await request(app).put(`${location}?digest=${data.digest}`).set('Content-Type', 'application/octet-stream').send(data.data);
  expect(put.status).toBe(201);
  const got = await request(app).get(`/v2/lease/a/blobs/${data.digest}`).buffer(true);
  expect(got.status).toBe(200);
});

test('a chunk whose session is cancelled while its body flows is answered BLOB_UPLOAD_UNKNOWN, and nothing is recorded', async () => {
  const post = await request(app).post('/v2/lease/cancelled/blobs/uploads/');
  const location = post.headers.location as string;
  const id = location.split('/').pop() as string;
  const parts = [randomBytes(MiB), randomBytes(MiB)];
  const answer = await slowPatch(location, parts, async (i) => {
    if (i === 0) expect((await request(app).delete(location)).status).toBe(204);
  });
  expect(answer.status).toBe(404);
  expect(JSON.parse(answer.body).errors[0].code).toBe('BLOB_UPLOAD_UNKNOWN');
  expect(await reg.pool.maybeOne(sql.unsafe`SELECT id FROM upload_sessions WHERE id = ${id}::uuid`)).toBeNull();
});

test('a client that disconnects in the middle of a chunk leaves the session at its last offset, free for the next request', async () => {
  const data = blob(randomBytes(4 * MiB));
  const post = await request(app).post('/v2/lease/gone/blobs/uploads/');
  const location = post.headers.location as string;
  const id = location.split('/').pop() as string;
  await request(app).patch(location).set('Content-Type', 'application/octet-stream').set('Content-Range', `0-${MiB - 1}`).send(data.data.subarray(0, MiB)).expect(202);

  // the second chunk announces 2 MiB and the client goes away after 1 MiB
  await new Promise<void>((resolve) => {
    const req = httpRequest(`${base}${location}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': 2 * MiB, 'Content-Range': `${MiB}-${3 * MiB - 1}` },
    });
    req.on('error', () => resolve());
    req.write(data.data.subarray(MiB, 2 * MiB), () => setTimeout(() => req.destroy(), 200));
  });

  // the writer notices, gives the lease back and records nothing: well before the 2 s lease would lapse
  const deadline = Date.now() + 1500;
  let row: Record<string, unknown> = {};
  while (Date.now() < deadline) {
    row = (await reg.pool.one(sql.unsafe`SELECT lease_token, byte_offset FROM upload_sessions WHERE id = ${id}::uuid`)) as Record<string, unknown>;
    if (row.lease_token === null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(row).toEqual({ lease_token: null, byte_offset: MiB });
  const put = await request(app)
    .put(`${location}?digest=${data.digest}`)
    .set('Content-Type', 'application/octet-stream')
    .set('Content-Range', `${MiB}-${4 * MiB - 1}`)
    .send(data.data.subarray(MiB));
  expect(put.status).toBe(201);
});

test('monolithic pushes whose clients go away half-way hold nothing: a later push still goes through', async () => {
  // more abandoned pushes than the filesystem driver has direct-write buffers (32)
  for (let i = 0; i < 40; i++) {
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${base}/v2/lease/mono/blobs/uploads/?digest=${blob(String(i)).digest}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': 4 * MiB },
      });
      req.on('error', () => resolve());
      req.write(randomBytes(MiB), () => setTimeout(() => req.destroy(), 20));
    });
  }
  const data = blob(randomBytes(3 * MiB));
  const post = await request(app).post(`/v2/lease/mono/blobs/uploads/?digest=${data.digest}`).set('Content-Type', 'application/octet-stream').send(data.data);
  expect(post.status).toBe(201);
}, 20_000);
