// Whatever a client sends, the answer is an OCI error with a 4xx status (or a
// success), never a 500 and never a dropped connection.
import { connect, createServer, type Socket } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { openPool } from '../../src/db/pool.ts';
import { createLogger } from '../../src/logger.ts';
import { expectOciError, pushBlob } from '../support/client.ts';
import { randomBlob } from '../support/fixtures.ts';
import { createTestRegistry, DEFAULT_OPTIONS, type TestRegistry } from '../support/registry.ts';
import { rowCounts } from '../support/rows.ts';

let reg: TestRegistry;
beforeAll(async () => {
  reg = await createTestRegistry();
  await pushBlob(reg.app, 'bad/repo', randomBlob(100));
});
afterAll(() => reg.close());

const d = `sha256:${'0'.repeat(64)}`;
const probes: Array<[string, string, (string | Buffer)?, Record<string, string>?]> = [
  ['GET', '/v2/bad/repo/manifests/%ZZ'],
  ['GET', '/v2/bad/repo/manifests/' + 'x'.repeat(300)],
  ['GET', `/v2/bad/repo/manifests/sha256:${'g'.repeat(64)}`],
  ['PUT', '/v2/bad/repo/manifests/v1', '\u0000\u0001binary', { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }],
  ['PUT', '/v2/bad/repo/manifests/v1', '{"schemaVersion":2,"config":null}', { 'Content-Type': 'application/json' }],
  ['PUT', '/v2/bad/repo/manifests/v1', '{"schemaVersion":2,"manifests":[null]}', { 'Content-Type': 'application/vnd.oci.image.index.v1+json' }],
  ['PUT', '/v2/bad/repo/manifests/v1', '{"schemaVersion":2,"manifests":{}}', {}],
  ['PUT', '/v2/bad/repo/manifests/v1', '"just a string"', {}],
  ['PUT', '/v2/bad/repo/manifests/v1', '', {}],
  ['PUT', '/v2/bad/repo/manifests/v1', '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a","digest":"' + d + '","size":1e400},"layers":[]}', {}],
  ['PUT', '/v2/bad/repo/manifests/v1', '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a","digest":"' + d + '","size":1},"layers":{}}', {}],
  ['PUT', '/v2/bad/repo/manifests/v1', '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a","digest":"' + d + '","size":1},"layers":[],"subject":"x"}', {}],
  ['GET', '/v2/bad/repo/blobs/uploads/'],
  ['PATCH', '/v2/bad/repo/blobs/uploads/', 'x'],
  ['PUT', `/v2/bad/repo/blobs/uploads/../../x?digest=${d}`],
  ['POST', '/v2/bad/repo/blobs/uploads/?digest=nope', 'x'],
  ['POST', `/v2/bad/repo/blobs/uploads/?mount=${d}&from=BAD//name`],
  ['GET', '/v2/bad/repo/tags/list?n=99999999999999999999999'],
  ['GET', '/v2/bad/repo/tags/list?n=1&n=2'],
  ['GET', '/v2/_catalog?n=x'],
  ['GET', '/v2/bad/repo/referrers/sha256:abc?artifactType='],
  ['DELETE', '/v2/bad/repo/manifests/not:a:digest'],
  ['DELETE', '/v2/bad/repo/blobs/latest'],
  ['GET', '/v2/bad/repo/blobs/' + d, undefined, { Range: 'bytes=99999999999999999999-' }],
  ['PATCH', '/v2/bad/repo/blobs/uploads/00000000-0000-0000-0000-000000000000', 'x', { 'Content-Range': '0-0' }],
  ['PUT', '/v2/bad/repo/blobs/uploads/00000000-0000-0000-0000-000000000000?digest=' + d, 'x'],
];

describe('malformed requests', () => {
  test.each(probes)('%s %s → a 4xx OCI error, no rows changed', async (method, path, body, headers) => {
    const before = await rowCounts(reg.pool);
    let req = request(reg.app)[method.toLowerCase() as 'get'](path);
    for (const [k, v] of Object.entries(headers ?? {})) req = req.set(k, v);
    const res = await (body === undefined ? req : req.send(body));
    expect(res.status, `${res.status} ${res.text}`).toBeGreaterThanOrEqual(200);
    expect(res.status, `${res.status} ${res.text}`).toBeLessThan(500);
    if (res.status >= 400) {
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(Array.isArray(res.body.errors)).toBe(true);
    }
    const after = await rowCounts(reg.pool);
    // a POST may open a session; nothing else may change
    expect({ ...after, upload_sessions: 0, repositories: 0 }).toEqual({ ...before, upload_sessions: 0, repositories: 0 });
  });
});

describe('database outage', () => {
  test('requests get 503 UNAVAILABLE when PostgreSQL goes away, and work again when it is back', async () => {
    const target = new URL(reg.db.url);
    const proxy = await tcpProxy(Number(target.port));
    const viaProxy = new URL(reg.db.url);
    viaProxy.port = String(proxy.port);
    const pool = await openPool(viaProxy.toString(), { connectionTimeoutMs: 1000 });
    const app = createApp({ pool, store: reg.store, log: createLogger('silent'), options: DEFAULT_OPTIONS });
    expect((await request(app).get('/v2/bad/repo/tags/list')).status).toBe(200);
    proxy.pause();
    expectOciError(await request(app).get('/v2/bad/repo/manifests/latest'), 503, 'UNAVAILABLE');
    expectOciError(await request(app).post('/v2/bad/repo/blobs/uploads/'), 503, 'UNAVAILABLE');
    proxy.resume();
    expect((await request(app).get('/v2/bad/repo/tags/list')).status).toBe(200);
    await pool.end();
    await proxy.close();
  });
});

/** A loopback TCP proxy that can drop every connection and refuse new ones, like a database going down. */
async function tcpProxy(targetPort: number) {
  const sockets = new Set<Socket>();
  let down = false;
  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    pause: () => {
      down = true;
      for (const s of sockets) s.destroy();
    },
    resume: () => {
      down = false;
    },
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}
