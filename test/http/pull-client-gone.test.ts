// A client that resets its connection while a blob GET is on its way (before the
// first byte or during the body) leaves nothing to report: no "unexpected error"
// in the log (there is nobody to answer, and nothing went wrong on our side), and
// the next client pulls the blob whole.
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createLogger } from '../../src/logger.ts';
import { pushBlob } from '../support/client.ts';
import { randomBlob } from '../support/fixtures.ts';
import { createTestRegistry, DEFAULT_OPTIONS, type TestRegistry } from '../support/registry.ts';

let reg: TestRegistry;
let server: Server;
let port: number;
const logged: string[] = [];
const blob = randomBlob(4 * 1024 * 1024);

beforeAll(async () => {
  reg = await createTestRegistry();
  await pushBlob(reg.app, 'gone/repo', blob);
  const app = createApp({ pool: reg.pool, store: reg.store, options: DEFAULT_OPTIONS, log: createLogger('warn', (l) => logged.push(l)) });
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await reg?.close();
});

/** Sends the GET, waits `afterMs`, then resets the connection (RST) without reading. */
function getAndReset(afterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(`GET /v2/gone/repo/blobs/${blob.digest} HTTP/1.1\r\nHost: x\r\n\r\n`);
      setTimeout(() => {
        s.resetAndDestroy();
        resolve();
      }, afterMs);
    });
    s.on('error', () => undefined);
  });
}

test('GETs of a blob reset before the first byte or mid-body log no error; the blob still pulls whole', async () => {
  for (let i = 0; i < 40; i++) await getAndReset(i % 4 === 0 ? 5 : 0);
  await new Promise((r) => setTimeout(r, 300)); // let the last requests notice
  expect(logged.filter((l) => l.includes('"level":"error"'))).toEqual([]);
  const res = await fetch(`http://127.0.0.1:${port}/v2/gone/repo/blobs/${blob.digest}`);
  const body = Buffer.from(await res.arrayBuffer());
  expect(res.status).toBe(200);
  expect(`sha256:${createHash('sha256').update(body).digest('hex')}`).toBe(blob.digest);
});
