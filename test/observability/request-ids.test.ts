// Request ids and the access log: a sane X-Request-Id from the client is kept,
// echoed and written on the request's access line; an insane one is replaced by
// a fresh id; every request gets one line with route, repository, status, bytes,
// duration and client; a client that goes away mid-request is logged at info.
import { connect, type Socket } from 'node:net';
import type { Server } from 'node:http';
import request from 'supertest';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createAuth } from '../../src/auth/service.ts';
import { loadConfig } from '../../src/config/index.ts';
import { authConfig } from '../../src/config/runtime.ts';
import { clientOf } from '../../src/http/credentials.ts';
import { createLogger } from '../../src/logger.ts';
import { waitFor } from '../faults/pg-bollard.ts';
import { createTestRegistry, DEFAULT_OPTIONS, type TestRegistry } from '../support/registry.ts';

let reg: TestRegistry;
let app: ReturnType<typeof createApp>;
const lines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  reg = await createTestRegistry();
  const log = createLogger('debug', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  app = createApp({ pool: reg.pool, store: reg.store, log, options: DEFAULT_OPTIONS });
});
afterAll(async () => {
  await reg?.close();
});

const accessLines = (requestId: string) => lines.filter((l) => l['requestId'] === requestId && l['route'] !== undefined);

test('a sane client id is echoed and written on the access line with the request’s fields', async () => {
  const res = await request(app).get('/v2/ids/app/tags/list').set('X-Request-Id', 'client-id.42:abc');
  expect(res.status).toBe(404);
  expect(res.headers['x-request-id']).toBe('client-id.42:abc');
  const [line, ...more] = accessLines('client-id.42:abc');
  expect(more).toEqual([]);
  expect(line).toMatchObject({
    level: 'info', msg: 'request', method: 'GET', route: '/v2/<name>/tags/list', repository: 'ids/app', status: 404,
  });
  expect(line?.['client']).toMatch(/127\.0\.0\.1/);
  expect(line?.['bytesIn']).toBeGreaterThan(0);
  expect(line?.['bytesOut']).toBeGreaterThan(0);
  expect(typeof line?.['durationMs']).toBe('number');
  expect(typeof line?.['time']).toBe('string');
});

test('an insane client id is replaced by a fresh one', async () => {
  for (const insane of ['has space', 'x'.repeat(200), 'quote"d', 'new\u00e9']) {
    const res = await request(app).get('/v2/').set('X-Request-Id', insane);
    expect(res.status).toBe(200);
    const given = res.headers['x-request-id'] as string;
    expect(given).not.toBe(insane);
    expect(given).toMatch(/^[0-9a-f-]{36}$/);
    expect(accessLines(given)).toHaveLength(1);
  }
});

test('without a client id each request gets its own', async () => {
  const a = (await request(app).get('/v2/')).headers['x-request-id'];
  const b = (await request(app).get('/v2/')).headers['x-request-id'];
  expect(a).toMatch(/^[0-9a-f-]{36}$/);
  expect(b).not.toBe(a);
});

test('probes and /metrics are logged at debug, not info', async () => {
  const res = await request(app).get('/healthz').set('X-Request-Id', 'probe-1');
  expect(res.status).toBe(200);
  expect(accessLines('probe-1')).toMatchObject([{ level: 'debug', route: '/healthz', status: 200 }]);
});

test('a client that goes away mid-upload is an info line marked aborted, and no error is logged', async () => {
  const post = await request(app).post('/v2/ids/gone/blobs/uploads/');
  expect(post.status).toBe(202);
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as { port: number }).port;
  const before = lines.length;
  try {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    await new Promise((resolve) => s.once('connect', resolve));
    s.write(`PATCH ${post.headers.location as string} HTTP/1.1\r\nHost: x\r\nX-Request-Id: gone-1\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n`);
    // the headers and some body are sent before the FIN: the server sees the request, then the body end early
    s.end(Buffer.alloc(1000));
    await waitFor('the access line of the cut request', () => accessLines('gone-1').length > 0);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  expect(accessLines('gone-1')).toMatchObject([{ level: 'info', aborted: true, status: 499, route: '/v2/<name>/blobs/uploads/<uuid>' }]);
  expect(lines.slice(before).filter((l) => l['level'] === 'error')).toEqual([]);
});

test('with token auth, the access line names the user a request was let in as', async () => {
  const log = createLogger('debug', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  const auth = await createAuth(reg.pool, authConfig(loadConfig({ BOLLARD_AUTH: 'token', BOLLARD_ADMIN_PASSWORD: 'ids-test-password' })), createLogger('silent'));
  const secured = createApp({ pool: reg.pool, store: reg.store, log, options: DEFAULT_OPTIONS, auth });
  const issued = await request(secured).get('/token?service=bollard&scope=repository:ids/app:pull').auth('admin', 'ids-test-password').set('X-Request-Id', 'user-token');
  expect(issued.status).toBe(200);
  expect(accessLines('user-token')).toMatchObject([{ route: '/token', status: 200, user: 'admin' }]);
  const token = (issued.body as { token: string }).token;
  await request(secured).get('/v2/ids/app/tags/list').set('Authorization', `Bearer ${token}`).set('X-Request-Id', 'user-read');
  expect(accessLines('user-read')).toMatchObject([{ route: '/v2/<name>/tags/list', user: 'admin' }]);
  await request(secured).get('/v2/').set('X-Request-Id', 'user-none');
  expect(accessLines('user-none')[0]).not.toHaveProperty('user');
});

test('a request whose connection is already gone counts against an unknown client, never a throw', () => {
  // express's req.ip reads req.socket, which Node sets to null once the connection is destroyed
  expect(clientOf({ ip: undefined, socket: null as unknown as Socket })).toBe('unknown');
});
