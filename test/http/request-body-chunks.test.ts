// Request bodies reach storage marked as the server's own (src/storage/owned-chunks.ts),
// so the driver frees each chunk once it has copied it (the storage contract suite
// checks that part on every driver). Here: every kind of upload body is marked on
// its way through the hashing stream.
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import request from 'supertest';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { UploadState } from '../../src/storage/blob-store.ts';
import { chunksOwned } from '../../src/storage/owned-chunks.ts';
import { blob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';

let reg: TestRegistry;
const marked: boolean[] = [];

beforeAll(async () => {
  reg = await createTestRegistry();
  const append = reg.store.appendUpload.bind(reg.store);
  reg.store.appendUpload = (state: UploadState, body: Readable) => {
    marked.push(chunksOwned(body));
    return append(state, body);
  };
});
afterAll(() => reg.close());

test("monolithic, chunked and last-chunk-on-PUT bodies all reach storage as the server's own", async () => {
  const mono = blob(randomBytes(300_000));
  await request(reg.app).post(`/v2/owned/mono/blobs/uploads/?digest=${mono.digest}`).set('Content-Type', 'application/octet-stream').send(mono.data).expect(201);

  const data = randomBytes(200_000);
  const whole = blob(data);
  const post = await request(reg.app).post('/v2/owned/chunked/blobs/uploads/').expect(202);
  const patch = await request(reg.app)
    .patch(post.headers.location as string)
    .set('Content-Type', 'application/octet-stream')
    .set('Content-Range', `0-${99_999}`)
    .send(data.subarray(0, 100_000))
    .expect(202);
  await request(reg.app)
    .put(`${patch.headers.location as string}?digest=${whole.digest}`)
    .set('Content-Type', 'application/octet-stream')
    .set('Content-Range', `100000-${data.length - 1}`)
    .send(data.subarray(100_000))
    .expect(201);

  expect(marked).toEqual([true, true, true]);
});
