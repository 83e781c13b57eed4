import { get as httpGet } from 'node:http';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { binaryParser, expectOciError, pushBlob, pushManifest } from '../support/client.ts';
import { imageManifest, OCI_MANIFEST, randomBlob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { countRows, refcountDrift } from '../support/rows.ts';

let reg: TestRegistry;
const b = randomBlob(10_000);
beforeAll(async () => {
  reg = await createTestRegistry();
  await pushBlob(reg.app, 'pull/blob', b);
});
afterAll(() => reg.close());


describe('GET and HEAD blob', () => {
  test('HEAD gives size and digest, no body', async () => {
    const res = await request(reg.app).head(`/v2/pull/blob/blobs/${b.digest}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(b.size));
    expect(res.headers['docker-content-digest']).toBe(b.digest);
    expect(res.headers['accept-ranges']).toBe('bytes');
  });

  test('GET streams the exact bytes', async () => {
    const res = await request(reg.app).get(`/v2/pull/blob/blobs/${b.digest}`).buffer(true).parse(binaryParser);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(Buffer.compare(res.body as Buffer, b.data)).toBe(0);
  });

  test.each([
    ['bytes=0-99', 0, 99],
    ['bytes=100-', 100, 9999],
    ['bytes=-10', 9990, 9999],
    ['bytes=9990-20000', 9990, 9999],
    ['bytes=-50000', 0, 9999],
  ])('Range %s → 206 with Content-Range', async (range, start, end) => {
    const res = await request(reg.app).get(`/v2/pull/blob/blobs/${b.digest}`).set('Range', range).buffer(true).parse(binaryParser);
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes ${start}-${end}/${b.size}`);
    expect(res.headers['content-length']).toBe(String(end - start + 1));
    expect(Buffer.compare(res.body as Buffer, b.data.subarray(start, end + 1))).toBe(0);
  });

  test.each(['bytes=10000-', 'bytes=20000-30000', 'bytes=-0'])('unsatisfiable Range %s → 416', async (range) => {
    const res = await request(reg.app).get(`/v2/pull/blob/blobs/${b.digest}`).set('Range', range);
    expectOciError(res, 416, 'RANGE_INVALID');
    expect(res.headers['content-range']).toBe(`bytes */${b.size}`);
  });

  test('a malformed or multi-part Range is ignored: the whole blob', async () => {
    for (const range of ['bytes=0-1,5-6', 'items=0-5', 'bytes=5-1']) {
      const res = await request(reg.app).get(`/v2/pull/blob/blobs/${b.digest}`).set('Range', range);
      expect(res.status).toBe(200);
    }
  });

  test('unknown blob → 404 BLOB_UNKNOWN; unknown repository too', async () => {
    expectOciError(await request(reg.app).get(`/v2/pull/blob/blobs/${randomBlob(3).digest}`), 404, 'BLOB_UNKNOWN');
    expectOciError(await request(reg.app).get(`/v2/no/such/repo/blobs/${b.digest}`), 404, 'BLOB_UNKNOWN');
    const head = await request(reg.app).head(`/v2/pull/blob/blobs/${randomBlob(3).digest}`);
    expect(head.status).toBe(404);
  });

  test('an invalid digest in the path → 400 DIGEST_INVALID', async () => {
    expectOciError(await request(reg.app).get('/v2/pull/blob/blobs/sha256:1234'), 400, 'DIGEST_INVALID');
    expectOciError(await request(reg.app).get('/v2/pull/blob/blobs/notadigest'), 400, 'DIGEST_INVALID');
  });
});

describe('a client that hangs up mid-download', () => {
  test('does not disturb the server, which goes on serving the same blob', async () => {
    const large = randomBlob(8 * 1024 * 1024);
    await pushBlob(reg.app, 'pull/large', large);
    const server = reg.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as { port: number };
    try {
      await new Promise<void>((resolve, reject) => {
        const req = httpGet(`http://127.0.0.1:${port}/v2/pull/large/blobs/${large.digest}`, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err)));
      });
      const again = await request(reg.app).get(`/v2/pull/large/blobs/${large.digest}`).buffer(true).parse(binaryParser);
      expect(again.status).toBe(200);
      expect(Buffer.compare(again.body as Buffer, large.data)).toBe(0);
    } finally {
      server.close();
    }
  });
});

describe('DELETE blob', () => {
  test('unlinks it from the repository only → 202 then 404 there, still 200 elsewhere', async () => {
    const x = randomBlob(500);
    await pushBlob(reg.app, 'del/one', x);
    await pushBlob(reg.app, 'del/two', x);
    const res = await request(reg.app).delete(`/v2/del/one/blobs/${x.digest}`);
    expect(res.status).toBe(202);
    expectOciError(await request(reg.app).get(`/v2/del/one/blobs/${x.digest}`), 404, 'BLOB_UNKNOWN');
    expect((await request(reg.app).head(`/v2/del/two/blobs/${x.digest}`)).status).toBe(200);
    expectOciError(await request(reg.app).delete(`/v2/del/one/blobs/${x.digest}`), 404, 'BLOB_UNKNOWN');
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('a blob that a manifest of the repository lists is refused with 405 UNSUPPORTED and kept', async () => {
    const config = randomBlob(50);
    const layer = randomBlob(500);
    await pushBlob(reg.app, 'del/used', config);
    await pushBlob(reg.app, 'del/used', layer);
    await pushManifest(reg.app, 'del/used', 'v1', imageManifest(config, [layer]), OCI_MANIFEST);
    const links = await countRows(reg.pool, 'repository_blobs');
    const refused = await request(reg.app).delete(`/v2/del/used/blobs/${layer.digest}`);
    expectOciError(refused, 405, 'UNSUPPORTED');
    expect(refused.body.errors[0].message).toBe(`blob ${layer.digest} is referenced by 1 manifest(s) in del/used; delete them first`);
    expect(refused.headers['allow']).toBe('GET, HEAD');
    expect(await countRows(reg.pool, 'repository_blobs')).toBe(links);
    expect((await request(reg.app).head(`/v2/del/used/blobs/${layer.digest}`)).status).toBe(200);
  });
});
