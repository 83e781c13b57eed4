// Stop signals against a real `bollard serve` on the embedded PostgreSQL:
//  - Ctrl-C in a terminal signals the whole foreground process group. The
//    embedded postmaster runs in a group of its own, so it keeps serving the
//    in-flight upload; Bollard stops it after the last request.
//  - A stalled client holds the shutdown only until BOLLARD_SHUTDOWN_TIMEOUT.
//  - A second signal exits at once, and leaves no postmaster behind.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { freePort } from '../support/ports.ts';
import { alive, cleanup, gone, postmasterPid, startServe, type ServeChild } from './serve-child.ts';

let serve: ServeChild | undefined;
let dataDir: string | undefined;
afterEach(async () => {
  cleanup(serve, dataDir);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  serve = undefined;
  dataDir = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function start(env: Record<string, string> = {}): Promise<{ s: ServeChild; base: string; pm: number }> {
  dataDir = await mkdtemp(join(tmpdir(), 'bollard-life-sig-'));
  serve = await startServe({ dataDir, embeddedPort: await freePort(), env });
  const pm = postmasterPid(dataDir);
  expect(pm).not.toBeNull();
  return { s: serve, base: `http://127.0.0.1:${serve.port}`, pm: pm as number };
}

/** A request whose body the test sends piece by piece; `done` settles with the response. */
function slowRequest(url: URL, method: string, length: number, agent: Agent) {
  const req = request(url, { method, agent, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(length) } });
  const done = new Promise<{ res: IncomingMessage; body: string }>((resolve, reject) => {
    req.once('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.once('end', () => resolve({ res, body }));
    });
    req.once('error', reject);
  });
  return { req, done };
}

test('Ctrl-C (SIGINT to the process group) lets an in-flight upload finish, then stops the embedded PostgreSQL', async () => {
  const { s, base, pm } = await start();
  const data = randomBytes(2 * 1024 * 1024);
  const post = await fetch(`${base}/v2/life/ctrlc/blobs/uploads/`, { method: 'POST' });
  expect(post.status).toBe(202);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  // the upload's last chunk goes with the closing PUT, slowly: it is in flight when the signal comes
  const put = slowRequest(new URL(`${post.headers.get('location') as string}?digest=${digestOf(data)}`, base), 'PUT', data.length, agent);
  put.req.write(data.subarray(0, 512 * 1024));
  await sleep(300);

  process.kill(-s.pid, 'SIGINT');
  await s.waitFor('stop signal received, finishing in-flight requests');
  await sleep(1000);
  // the terminal's SIGINT reached Bollard only: its database still serves the upload
  expect(alive(pm)).toBe(true);
  expect(s.running()).toBe(true);
  put.req.end(data.subarray(512 * 1024));
  const { res, body } = await put.done;
  expect(res.statusCode, body).toBe(201);
  agent.destroy();

  expect(await s.exited).toBe(0);
  expect(await gone(pm)).toBe(true);
  expect(s.logged('embedded postgres died')).toEqual([]);
  expect(s.logged('embedded postgres stopped')).toHaveLength(1);
});

/** A client that starts an upload request and then sends nothing more. */
async function stalledClient(base: string, port: number): Promise<() => void> {
  const post = await fetch(`${base}/v2/life/stalled/blobs/uploads/`, { method: 'POST' });
  expect(post.status).toBe(202);
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise((r) => socket.once('connect', r));
  socket.write(`PATCH ${post.headers.get('location') as string} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n`);
  socket.write(Buffer.alloc(1000));
  return () => socket.destroy();
}

test('a stalled client holds the shutdown only until BOLLARD_SHUTDOWN_TIMEOUT; the database still stops cleanly', async () => {
  // no idle-body cut: only the deadline may end the stalled request
  const { s, base, pm } = await start({ BOLLARD_SHUTDOWN_TIMEOUT: '2', BOLLARD_BODY_IDLE_TIMEOUT: '0' });
  const close = await stalledClient(base, s.port);
  await sleep(300);
  process.kill(s.pid, 'SIGTERM');
  try {
    expect(await s.exited).toBe(1);
  } finally {
    close();
  }
  expect(s.logged('shutdown deadline passed, closing open connections')).toHaveLength(1);
  expect(s.logged('embedded postgres stopped')).toHaveLength(1);
  expect(s.logged('stopped')[0]).toMatchObject({ exitCode: 1 });
  expect(await gone(pm)).toBe(true);
});

test('a second signal exits at once, stopping the embedded PostgreSQL immediately', async () => {
  const { s, base, pm } = await start({ BOLLARD_SHUTDOWN_TIMEOUT: '3600', BOLLARD_BODY_IDLE_TIMEOUT: '0' });
  const close = await stalledClient(base, s.port);
  await sleep(300);
  process.kill(s.pid, 'SIGTERM');
  await s.waitFor('stop signal received, finishing in-flight requests');
  await sleep(500);
  expect(s.running()).toBe(true); // held by the stalled client
  process.kill(s.pid, 'SIGTERM');
  try {
    expect(await s.exited).toBe(1);
  } finally {
    close();
  }
  expect(s.logged('second stop signal, exiting at once')).toHaveLength(1);
  expect(await gone(pm)).toBe(true);
  // every line it printed is JSON
  expect(s.output().trim().split('\n').filter((l) => !l.startsWith('{'))).toEqual([]);
});

test('without TLS, SIGHUP (a terminal hang-up) is a graceful stop, not an abrupt end that would orphan the postmaster', async () => {
  const { s, pm } = await start();
  process.kill(s.pid, 'SIGHUP');
  expect(await s.exited).toBe(0);
  expect(s.logged('stop signal received, finishing in-flight requests')[0]).toMatchObject({ signal: 'SIGHUP' });
  expect(await gone(pm)).toBe(true);
});
