// Upload sessions live in PostgreSQL and storage, not in a process: they survive
// a restart and can be continued by another replica on the same database and data.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, expect, test } from 'vitest';
import { startServer, type ServerProcess } from './support/server.ts';

const servers: ServerProcess[] = [];
afterAll(async () => {
  for (const s of servers.slice(1)) await s.stop();
  await servers[0]?.destroy();
});

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function patch(base: string, location: string, chunk: Buffer, start: number): Promise<Response> {
  return fetch(new URL(location, base), {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${start + chunk.length - 1}` },
    body: chunk,
  });
}

test('a chunked upload started before a restart is finished after it', async () => {
  const first = await startServer();
  servers.push(first);
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const digest = digestOf(data);
  const post = await fetch(`${first.url}/v2/restart/app/blobs/uploads/`, { method: 'POST' });
  expect(post.status).toBe(202);
  const one = await patch(first.url, post.headers.get('location') as string, data.subarray(0, 2 * 1024 * 1024), 0);
  expect(one.status).toBe(202);
  const location = one.headers.get('location') as string;

  expect(await first.stop()).toBe(0);
  const second = await startServer({ reuse: { dataDir: first.dataDir, db: first.db } });
  servers.push(second);

  const status = await fetch(new URL(location, second.url));
  expect(status.status).toBe(204);
  expect(status.headers.get('range')).toBe(`0-${2 * 1024 * 1024 - 1}`);
  const two = await patch(second.url, location, data.subarray(2 * 1024 * 1024), 2 * 1024 * 1024);
  expect(two.status).toBe(202);
  const put = await fetch(new URL(`${location}?digest=${digest}`, second.url), { method: 'PUT' });
  expect(put.status, await put.clone().text()).toBe(201);

  const pulled = Buffer.from(await (await fetch(`${second.url}/v2/restart/app/blobs/${digest}`)).arrayBuffer());
  expect(digestOf(pulled)).toBe(digest);
  expect(pulled.length).toBe(data.length);
});

test('two replicas on one database and data directory continue each other’s sessions', async () => {
  const base = servers[0] as ServerProcess;
  const a = await startServer({ reuse: { dataDir: base.dataDir, db: base.db } });
  const b = await startServer({ reuse: { dataDir: base.dataDir, db: base.db } });
  servers.push(a, b);
  const data = randomBytes(1024 * 1024);
  const digest = digestOf(data);
  const post = await fetch(`${a.url}/v2/replicas/app/blobs/uploads/`, { method: 'POST' });
  let location = post.headers.get('location') as string;
  // alternate replicas chunk by chunk: each must rebuild the other's hash state
  const size = 256 * 1024;
  for (let i = 0; i < 4; i++) {
    const target = i % 2 === 0 ? b : a;
    const res = await patch(target.url, location, data.subarray(i * size, (i + 1) * size), i * size);
    expect(res.status).toBe(202);
    location = res.headers.get('location') as string;
  }
  const put = await fetch(new URL(`${location}?digest=${digest}`, b.url), { method: 'PUT' });
  expect(put.status).toBe(201);
  const head = await fetch(`${a.url}/v2/replicas/app/blobs/${digest}`, { method: 'HEAD' });
  expect(head.status).toBe(200);
  expect(head.headers.get('content-length')).toBe(String(data.length));
});
