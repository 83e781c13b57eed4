// Slow and stalled clients over real TCP against a real `bollard serve`: late
// headers are refused, a body that stops arriving is cut and its session freed,
// stalled bodies hold no database connection, and uploads beyond the limit are
// told to come back.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { blob, OCI_MANIFEST } from '../support/fixtures.ts';
import { startServer, type ServerProcess } from '../support/server.ts';
import { errorLines } from './integrity.ts';
import { closedWithin, openSession, send, stall, targetOf, type Target } from './raw.ts';

let server: ServerProcess;
let t: Target;
const data = blob(randomBytes(64 * 1024));

beforeAll(async () => {
  server = await startServer({
    env: { BOLLARD_HEADERS_TIMEOUT: '1', BOLLARD_BODY_IDLE_TIMEOUT: '1', BOLLARD_MAX_UPLOADS: '3', BOLLARD_DB_POOL_SIZE: '2' },
  });
  t = targetOf(server.url);
});
afterAll(async () => {
  await server?.destroy();
});

test('headers that do not arrive in time get 408 and a closed connection', async () => {
  const sock = connect(t.port, t.host);
  sock.on('error', () => undefined);
  const answer: Buffer[] = [];
  sock.on('data', (c: Buffer) => answer.push(c));
  sock.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n'); // the header block never ends
  expect(await closedWithin(sock, 5000)).toBe(true);
  expect(Buffer.concat(answer).toString()).toMatch(/^HTTP\/1\.1 408/);
});

test('stalled bodies hold no database connection, are cut when idle, and leave their sessions free at once', async () => {
  const sessions = await Promise.all([0, 1, 2].map(() => openSession(t, 'slow/a')));
  const stalled = await Promise.all([
    ...sessions.map((p) => stall(t, 'PATCH', p, data.data, 1000)),
    // manifest bodies are not uploads: no slot, but the same idle cut
    ...[0, 1, 2].map(() => stall(t, 'PUT', '/v2/slow/a/manifests/x', Buffer.alloc(2000, 32), 10, { 'Content-Type': OCI_MANIFEST })),
  ]);
  // six stalled bodies, a pool of two connections: requests that need the database still answer
  const tags = await send(t, 'GET', '/v2/slow/a/tags/list', {}, Buffer.alloc(0), 3000);
  expect([200, 404]).toContain(tags.status);
  expect((await send(t, 'GET', '/v2/_catalog', {}, Buffer.alloc(0), 3000)).status).toBe(200);
  // a fourth upload body is over the limit: told to come back, its body unread
  const over = await send(t, 'POST', `/v2/slow/a/blobs/uploads/?digest=${data.digest}`, {}, data.data, 3000);
  expect(over.status).toBe(503);
  expect(over.headers['retry-after']).toBe('1');
  expect(JSON.parse(over.body).errors[0].code).toBe('UNAVAILABLE');

  // idle for over a second: every stalled request is cut
  for (const s of stalled) expect(await closedWithin(s, 5000)).toBe(true);
  for (const p of sessions) {
    const next = await send(t, 'PATCH', p, {}, Buffer.from('resumed'));
    expect(next.status, next.body).toBe(202);
    expect(next.headers.range).toBe('0-6');
  }
  // and the slots are free again
  expect((await send(t, 'POST', `/v2/slow/a/blobs/uploads/?digest=${data.digest}`, {}, data.data)).status).toBe(201);
  expect(errorLines(server)).toEqual([]);
});
