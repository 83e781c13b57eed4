import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { binaryParser, expectOciError, pushBlob } from '../support/client.ts';
import { blob, randomBlob, sha512 } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { countRows, refcountDrift } from '../support/rows.ts';

let reg: TestRegistry;
beforeAll(async () => {
  reg = await createTestRegistry();
});
afterAll(() => reg.close());

async function open(repo: string): Promise<string> {
  const res = await request(reg.app).post(`/v2/${repo}/blobs/uploads/`);
  expect(res.status).toBe(202);
  expect(res.headers.location).toMatch(new RegExp(`^/v2/${repo}/blobs/uploads/[0-9a-f-]{36}$`));
  expect(res.headers['docker-upload-uuid']).toBeTruthy();
  expect(res.headers.range).toBe('0-0');
  return res.headers.location as string;
}

async function expectBlob(repo: string, b: { digest: string; data: Buffer }) {
  const res = await request(reg.app).get(`/v2/${repo}/blobs/${b.digest}`).buffer(true).parse(binaryParser);
  expect(res.status).toBe(200);
  expect(res.headers['docker-content-digest']).toBe(b.digest);
  expect(Buffer.compare(res.body as Buffer, b.data)).toBe(0);
}

describe('monolithic push', () => {
  test('POST then PUT ?digest= with the whole body → 201', async () => {
    const b = randomBlob(100_000);
    const loc = await open('mono/a');
    const res = await request(reg.app).put(`${loc}?digest=${b.digest}`).set('Content-Type', 'application/octet-stream').send(b.data);
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/v2/mono/a/blobs/${b.digest}`);
    expect(res.headers['docker-content-digest']).toBe(b.digest);
    await expectBlob('mono/a', b);
    expect(await countRows(reg.pool, 'upload_sessions')).toBe(0);
  });

  test('single POST with ?digest= and a body → 201', async () => {
    const b = randomBlob(5000);
    await pushBlob(reg.app, 'mono/b', b);
    await expectBlob('mono/b', b);
  });

  test('an empty blob can be pushed and pulled', async () => {
    const b = blob(Buffer.alloc(0));
    const loc = await open('mono/empty');
    expect((await request(reg.app).put(`${loc}?digest=${b.digest}`)).status).toBe(201);
    const head = await request(reg.app).head(`/v2/mono/empty/blobs/${b.digest}`);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('0');
  });

  test('a SHA-512 digest is verified and served', async () => {
    const data = randomBytes(3000);
    const d = sha512(data);
    const res = await request(reg.app).post(`/v2/mono/sha512/blobs/uploads/?digest=${d}`).send(data);
    expect(res.status).toBe(201);
    expect(res.headers['docker-content-digest']).toBe(d);
    await expectBlob('mono/sha512', { digest: d, data });
  });

  test('a wrong digest is DIGEST_INVALID and links nothing', async () => {
    const before = await countRows(reg.pool, 'blobs');
    const b = randomBlob(2000);
    const wrong = randomBlob(10).digest;
    const loc = await open('mono/wrong');
    const res = await request(reg.app).put(`${loc}?digest=${wrong}`).send(b.data);
    expectOciError(res, 400, 'DIGEST_INVALID');
    expect(await countRows(reg.pool, 'blobs')).toBe(before);
    expectOciError(await request(reg.app).get(`/v2/mono/wrong/blobs/${wrong}`), 404, 'BLOB_UNKNOWN');
    expectOciError(await request(reg.app).get(`/v2/mono/wrong/blobs/${b.digest}`), 404, 'BLOB_UNKNOWN');
    // the session is gone with the failed upload
    expectOciError(await request(reg.app).get(loc), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  test.each([
    ['malformed', 'sha256:xyz'],
    ['short hex', `sha256:${'a'.repeat(63)}`],
    ['long hex', `sha256:${'a'.repeat(65)}`],
    ['upper-case hex', `sha256:${'A'.repeat(64)}`],
    ['unsupported algorithm', `md5:${'a'.repeat(32)}`],
    ['sha512 with sha256 length', `sha512:${'a'.repeat(64)}`],
  ])('a %s digest is DIGEST_INVALID', async (_what, digest) => {
    const loc = await open('mono/baddigest');
    expectOciError(await request(reg.app).put(`${loc}?digest=${digest}`).send(Buffer.from('x')), 400, 'DIGEST_INVALID');
  });

  test('PUT without ?digest= is DIGEST_INVALID and keeps the session', async () => {
    const loc = await open('mono/nodigest');
    expectOciError(await request(reg.app).put(loc).send(Buffer.from('abc')), 400, 'DIGEST_INVALID');
    expect((await request(reg.app).get(loc)).status).toBe(204);
  });
});

describe('chunked push', () => {
  test('PATCH chunks in order, status in between, final chunk on PUT', async () => {
    const b = randomBlob(300_000);
    let loc = await open('chunked/a');
    const parts = [b.data.subarray(0, 100_000), b.data.subarray(100_000, 250_000), b.data.subarray(250_000)];
    let offset = 0;
    for (const part of parts.slice(0, 2)) {
      const res = await request(reg.app)
        .patch(loc)
        .set('Content-Type', 'application/octet-stream')
        .set('Content-Range', `${offset}-${offset + part.length - 1}`)
        .send(part);
      expect(res.status).toBe(202);
      offset += part.length;
      expect(res.headers.range).toBe(`0-${offset - 1}`);
      expect(res.headers['docker-upload-uuid']).toBeTruthy();
      loc = res.headers.location as string;
      const status = await request(reg.app).get(loc);
      expect(status.status).toBe(204);
      expect(status.headers.range).toBe(`0-${offset - 1}`);
      expect(status.headers.location).toBe(loc);
    }
    const last = parts[2] as Buffer;
    const res = await request(reg.app)
      .put(`${loc}?digest=${b.digest}`)
      .set('Content-Range', `${offset}-${offset + last.length - 1}`)
      .send(last);
    expect(res.status).toBe(201);
    await expectBlob('chunked/a', b);
  });

  test('an out-of-order chunk is 416 and the session keeps its bytes', async () => {
    const b = randomBlob(2000);
    const loc = await open('chunked/order');
    await request(reg.app).patch(loc).set('Content-Range', '0-999').send(b.data.subarray(0, 1000)).expect(202);
    const skip = await request(reg.app).patch(loc).set('Content-Range', '1500-1999').send(b.data.subarray(1500));
    expectOciError(skip, 416, 'RANGE_INVALID');
    expect(skip.headers.range).toBe('0-999');
    const repeat = await request(reg.app).patch(loc).set('Content-Range', '0-999').send(b.data.subarray(0, 1000));
    expect(repeat.status).toBe(416);
    await request(reg.app).patch(loc).set('Content-Range', '1000-1999').send(b.data.subarray(1000)).expect(202);
    expect((await request(reg.app).put(`${loc}?digest=${b.digest}`)).status).toBe(201);
    await expectBlob('chunked/order', b);
  });

  test('a chunk whose body is shorter than its Content-Range is refused and not counted', async () => {
    const b = randomBlob(1000);
    const loc = await open('chunked/short');
    const res = await request(reg.app).patch(loc).set('Content-Range', '0-1999').send(b.data);
    expect(res.status).toBe(416);
    const status = await request(reg.app).get(loc);
    expect(status.headers.range).toBe('0-0');
    await request(reg.app).patch(loc).set('Content-Range', '0-999').send(b.data).expect(202);
    expect((await request(reg.app).put(`${loc}?digest=${b.digest}`)).status).toBe(201);
  });

  test('a malformed Content-Range is 416', async () => {
    const loc = await open('chunked/badrange');
    expect((await request(reg.app).patch(loc).set('Content-Range', 'abc').send(Buffer.from('x'))).status).toBe(416);
    expect((await request(reg.app).patch(loc).set('Content-Range', '5-1').send(Buffer.from('x'))).status).toBe(416);
  });

  test('streamed PATCH without Content-Range appends', async () => {
    const b = randomBlob(50_000);
    const loc = await open('chunked/stream');
    await request(reg.app).patch(loc).send(b.data.subarray(0, 20_000)).expect(202);
    const res = await request(reg.app).patch(loc).send(b.data.subarray(20_000));
    expect(res.headers.range).toBe('0-49999');
    expect((await request(reg.app).put(`${loc}?digest=${b.digest}`)).status).toBe(201);
    await expectBlob('chunked/stream', b);
  });

  test('a session is only reachable through its own repository', async () => {
    const loc = await open('chunked/owner');
    const id = loc.split('/').pop() as string;
    expectOciError(await request(reg.app).get(`/v2/chunked/other/blobs/uploads/${id}`), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  test('unknown or malformed session ids are BLOB_UPLOAD_UNKNOWN', async () => {
    for (const id of ['00000000-0000-0000-0000-000000000000', 'not-a-uuid']) {
      expectOciError(await request(reg.app).get(`/v2/chunked/a/blobs/uploads/${id}`), 404, 'BLOB_UPLOAD_UNKNOWN');
      expectOciError(await request(reg.app).patch(`/v2/chunked/a/blobs/uploads/${id}`).send(Buffer.from('x')), 404, 'BLOB_UPLOAD_UNKNOWN');
    }
  });
});

describe('cancel', () => {
  test('DELETE on the session → 204, then the session is unknown and its staging gone', async () => {
    const loc = await open('cancel/a');
    await request(reg.app).patch(loc).send(Buffer.from('some bytes')).expect(202);
    expect((await request(reg.app).delete(loc)).status).toBe(204);
    expectOciError(await request(reg.app).get(loc), 404, 'BLOB_UPLOAD_UNKNOWN');
    expectOciError(await request(reg.app).delete(loc), 404, 'BLOB_UPLOAD_UNKNOWN');
    const id = loc.split('/').pop() as string;
    expect(await reg.staging(id)).toEqual([]);
  });
});

describe('cross-repository mount', () => {
  test('mount from a repository that has the blob → 201 without a body', async () => {
    const b = randomBlob(4000);
    await pushBlob(reg.app, 'mount/src', b);
    const res = await request(reg.app).post(`/v2/mount/dst/blobs/uploads/?mount=${b.digest}&from=mount/src`);
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/v2/mount/dst/blobs/${b.digest}`);
    expect(res.headers['docker-content-digest']).toBe(b.digest);
    await expectBlob('mount/dst', b);
  });

  test('mount from a repository without the blob → 202 and a usable session', async () => {
    const b = randomBlob(4000);
    await pushBlob(reg.app, 'mount/elsewhere', b);
    const res = await request(reg.app).post(`/v2/mount/dst2/blobs/uploads/?mount=${b.digest}&from=mount/empty`);
    expect(res.status).toBe(202);
    const put = await request(reg.app).put(`${res.headers.location}?digest=${b.digest}`).send(b.data);
    expect(put.status).toBe(201);
  });

  test('automatic mount without from links a blob the registry already stores', async () => {
    const b = randomBlob(4000);
    await pushBlob(reg.app, 'mount/auto-src', b);
    const res = await request(reg.app).post(`/v2/mount/auto-dst/blobs/uploads/?mount=${b.digest}`);
    expect(res.status).toBe(201);
    await expectBlob('mount/auto-dst', b);
  });

  test('automatic mount of an unknown blob → 202', async () => {
    const res = await request(reg.app).post(`/v2/mount/auto-dst/blobs/uploads/?mount=${randomBlob(5).digest}`);
    expect(res.status).toBe(202);
  });

  test('an invalid mount digest is DIGEST_INVALID', async () => {
    expectOciError(await request(reg.app).post('/v2/mount/dst/blobs/uploads/?mount=sha256:nope&from=mount/src'), 400, 'DIGEST_INVALID');
  });
});

describe('dedupe and visibility', () => {
  test('the same content pushed to two repositories is stored once and visible in both', async () => {
    const b = randomBlob(8000);
    const blobsBefore = await countRows(reg.pool, 'blobs');
    await pushBlob(reg.app, 'dedupe/one', b);
    await pushBlob(reg.app, 'dedupe/two', b);
    expect(await countRows(reg.pool, 'blobs')).toBe(blobsBefore + 1);
    await expectBlob('dedupe/one', b);
    await expectBlob('dedupe/two', b);
  });

  test('a blob is invisible in a repository that does not link it', async () => {
    const b = randomBlob(100);
    await pushBlob(reg.app, 'visible/here', b);
    expectOciError(await request(reg.app).get(`/v2/visible/there/blobs/${b.digest}`), 404, 'BLOB_UNKNOWN');
  });

  test('refcounts match a recount after all of the above', async () => {
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });
});
