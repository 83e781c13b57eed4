// The upstream transport against small HTTP servers on loopback: redirects (and
// where credentials go with them), a kept-alive connection the server closed, a
// server that never answers, HEAD.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { NoAnswer, readText, Transport } from './transport.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('a redirect to another origin is followed without the credentials; one on the same origin keeps them', async () => {
  const seen: Array<string | undefined> = [];
  const cdn = await serve((req, res) => {
    seen.push(req.headers.authorization);
    res.end('from the cdn');
  });
  const origin = await serve((req, res) => {
    seen.push(req.headers.authorization);
    if (req.url === '/first') res.writeHead(307, { Location: '/second' }).end();
    else res.writeHead(302, { Location: `${cdn}/blob` }).end();
  });
  const reply = await new Transport().send('GET', `${origin}/first`, { Authorization: 'Basic c2VjcmV0' }, 2000);
  expect(reply.status).toBe(200);
  expect(await readText(reply.body, 1000)).toBe('from the cdn');
  expect(seen).toEqual(['Basic c2VjcmV0', 'Basic c2VjcmV0', undefined]);
});

test('a request on a kept-alive connection the server drops unanswered is sent again on a new one', async () => {
  let answered = 0;
  const served = new WeakMap<object, number>();
  const url = await serve((req, res) => {
    const n = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, n);
    // a second request on a connection: the server had already given it up (a short keep-alive)
    if (n > 1) return void req.socket.destroy();
    answered++;
    res.end('ok');
  });
  const transport = new Transport();
  for (let i = 0; i < 3; i++) {
    const reply = await transport.send('GET', `${url}/x`, {}, 2000);
    expect(await readText(reply.body, 100)).toBe('ok');
  }
  expect(answered).toBe(3);
});

test('no response headers within the timeout: NoAnswer, and the connection is ended', async () => {
  let closed = false;
  const url = await serve((req) => req.socket.once('close', () => (closed = true)));
  const started = Date.now();
  await expect(new Transport().send('GET', `${url}/slow`, {}, 300)).rejects.toBeInstanceOf(NoAnswer);
  expect(Date.now() - started).toBeLessThan(3000);
  await expect.poll(() => closed).toBe(true);
});

test('HEAD has no body; an aborted body fails its reader without crashing the process', async () => {
  const url = await serve((req, res) => {
    res.writeHead(200, { 'Content-Length': 1 << 20, 'Docker-Content-Digest': 'sha256:x' });
    if (req.method === 'HEAD') res.end();
    else res.write(Buffer.alloc(1000)); // and the rest never comes
  });
  const transport = new Transport();
  const head = await transport.send('HEAD', `${url}/b`, {}, 2000);
  expect(head.body).toBeNull();
  expect(head.headers.get('docker-content-digest')).toBe('sha256:x');
  const get = await transport.send('GET', `${url}/b`, {}, 2000);
  get.abort(new Error('stalled'));
  await expect(readText(get.body, 2 << 20)).rejects.toThrow();
});

test('a redirect loop ends: the last redirect is answered as it is', async () => {
  const url = await serve((_req, res) => res.writeHead(302, { Location: '/again' }).end());
  const reply = await new Transport().send('GET', `${url}/start`, {}, 2000);
  expect(reply.status).toBe(302);
  reply.abort(new Error('not read'));
});
