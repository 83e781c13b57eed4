// Single-flight within one process, against an upstream of the test's own that
// counts its requests: concurrent pulls of one blob or manifest ask it once; when
// that one fetch fails, every waiting client gets the same clean error, or a body
// cut short once bytes are out, and nothing is left behind.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { countRows, refcountDrift } from '../support/rows.ts';
import { OCI_MANIFEST, imageManifest, randomBlob, type Blob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { listen } from './upstreams.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler = (_req, res) => res.writeHead(404).end();
const asked = new Map<string, number>();
let upstream: Awaited<ReturnType<typeof listen>>;
let registry: TestRegistry;
let bollard: Awaited<ReturnType<typeof listen>>;
/** A registry whose store cannot read a staging while it grows, as on S3: waiting pulls wait for the commit. */
let waiting: TestRegistry;
let waitingBollard: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  upstream = await listen((req: IncomingMessage, res: ServerResponse) => {
    const key = `${req.method} ${req.url}`;
    asked.set(key, (asked.get(key) ?? 0) + 1);
    handler(req, res);
  });
  const options = { proxy: { upstreams: [{ prefix: 'up', url: upstream.url }], tagTtlSeconds: 0, timeoutMs: 800 } };
  registry = await createTestRegistry(options);
  bollard = await listen(registry.app);
  waiting = await createTestRegistry(options, (store) => Object.assign(Object.create(store) as typeof store, { followUpload: undefined }));
  waitingBollard = await listen(waiting.app);
});

afterEach(() => {
  upstream.server.closeAllConnections();
});

afterAll(async () => {
  await bollard?.close();
  await registry?.close();
  await waitingBollard?.close();
  await waiting?.close();
  await upstream?.close();
});

/** Sends the body in slices with pauses between them, so that concurrent pulls overlap. */
function slowly(res: ServerResponse, data: Buffer, upTo = data.length): void {
  res.writeHead(200, { 'Content-Length': data.length, 'Content-Type': 'application/octet-stream' });
  const SLICE = 256 * 1024;
  const next = (at: number) => {
    if (res.destroyed) return;
    if (at >= upTo) {
      if (upTo === data.length) res.end();
      return; // stalls: the rest never comes
    }
    res.write(data.subarray(at, Math.min(at + SLICE, upTo)));
    setTimeout(() => next(at + SLICE), 15);
  };
  next(0);
}

const pull = (path: string, init: RequestInit = {}) => fetch(`${bollard.url}${path}`, init).then(async (res) => ({
  status: res.status,
  body: await res.arrayBuffer().then((b) => Buffer.from(b), (e: unknown) => e as Error),
}));
const blobPath = (b: Blob) => `/v2/up/img/blobs/${b.digest}`;

async function noFetchLeft(): Promise<void> {
  for (let i = 0; i < 100 && (await countRows(registry.pool, 'proxy_fetches')) > 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect(await countRows(registry.pool, 'proxy_fetches')).toBe(0);
}

test('three clients pull one blob at once: one upstream GET, each gets the whole blob', async () => {
  const b = randomBlob(6 * 1024 * 1024 + 11);
  handler = (_req, res) => slowly(res, b.data);
  const results = await Promise.all([pull(blobPath(b)), pull(blobPath(b)), pull(blobPath(b))]);
  for (const r of results) {
    expect(r.status).toBe(200);
    expect(Buffer.isBuffer(r.body) && r.body.equals(b.data)).toBe(true);
  }
  expect(asked.get(`GET /v2/img/blobs/${b.digest}`)).toBe(1);
  await noFetchLeft();
  expect(await countRows(registry.pool, 'blobs')).toBe(1);
  expect(await refcountDrift(registry.pool)).toEqual([]);
});

test('the one fetch answered 404: every waiting client gets BLOB_UNKNOWN, the upstream was asked once', async () => {
  const b = randomBlob(100);
  handler = (_req, res) => setTimeout(() => res.writeHead(404).end(), 300);
  const results = await Promise.all([1, 2, 3].map(() => fetch(`${bollard.url}${blobPath(b)}`)));
  for (const res of results) {
    expect(res.status).toBe(404);
    expect(((await res.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('BLOB_UNKNOWN');
  }
  expect(asked.get(`GET /v2/img/blobs/${b.digest}`)).toBe(1);
  await noFetchLeft();
});

test('the one fetch stalls mid-blob: every client is cut short after the timeout, nothing commits or stays staged', async () => {
  const b = randomBlob(4 * 1024 * 1024);
  handler = (_req, res) => slowly(res, b.data, 1024 * 1024);
  const results = await Promise.all([pull(blobPath(b)), pull(blobPath(b))]);
  for (const r of results) expect(r.body instanceof Error || r.body.length < b.size || r.status >= 500).toBe(true);
  expect(asked.get(`GET /v2/img/blobs/${b.digest}`)).toBe(1);
  await noFetchLeft();
  expect(await countRows(registry.pool, 'blobs')).toBe(1); // the first test's
  const left = [];
  for await (const o of registry.store.list('uploads')) left.push(o.key);
  expect(left).toEqual([]);
});

test('three clients pull one manifest by digest at once: one upstream GET', async () => {
  const config = randomBlob(50);
  const m = imageManifest(config, [], {}, OCI_MANIFEST);
  handler = (_req, res) => setTimeout(() => res.writeHead(200, { 'Content-Type': OCI_MANIFEST, 'Docker-Content-Digest': m.digest }).end(m.data), 300);
  const results = await Promise.all([1, 2, 3].map(() => pull(`/v2/up/img/manifests/${m.digest}`, { headers: { Accept: OCI_MANIFEST } })));
  for (const r of results) expect(r.status === 200 && Buffer.isBuffer(r.body) && r.body.equals(m.data)).toBe(true);
  expect(asked.get(`GET /v2/img/manifests/${m.digest}`)).toBe(1);
  await noFetchLeft();
});

test('where a staging cannot be followed (as on S3), the other pulls wait for the commit and are served from the cache', async () => {
  const b = randomBlob(3 * 1024 * 1024 + 5);
  handler = (_req, res) => slowly(res, b.data);
  const results = await Promise.all([1, 2, 3].map(() => fetch(`${waitingBollard.url}${blobPath(b)}`).then(async (res) => ({
    status: res.status, body: Buffer.from(await res.arrayBuffer()), ranges: res.headers.get('accept-ranges'),
  }))));
  for (const r of results) expect(r.status === 200 && r.body.equals(b.data)).toBe(true);
  // the one that fetched streamed it from the upstream; the two that waited were served by the cache
  expect(results.map((r) => r.ranges).sort()).toEqual(['bytes', 'bytes', null]);
  expect(asked.get(`GET /v2/img/blobs/${b.digest}`)).toBe(1);
  expect(await countRows(waiting.pool, 'blobs')).toBe(1);
  expect(await countRows(waiting.pool, 'proxy_fetches')).toBe(0);
});

test('a cached tag whose upstream is down: each of three concurrent pulls is served stale with the Warning, one HEAD upstream', async () => {
  const config = randomBlob(60);
  const m = imageManifest(config, [], {}, OCI_MANIFEST);
  const answer = (req: IncomingMessage, res: ServerResponse) =>
    res.writeHead(200, { 'Content-Type': OCI_MANIFEST, 'Docker-Content-Digest': m.digest, 'Content-Length': m.data.length }).end(req.method === 'HEAD' ? undefined : m.data);
  handler = answer;
  const tag = '/v2/up/img/manifests/stale';
  const pullTag = () => fetch(`${bollard.url}${tag}`, { headers: { Accept: OCI_MANIFEST } }).then(async (res) => ({
    status: res.status, body: Buffer.from(await res.arrayBuffer()), warning: res.headers.get('warning'),
  }));
  expect((await pullTag()).warning).toBeNull(); // cached now; with a tag TTL of 0 every later pull revalidates
  // the slow answer keeps the one revalidation in flight while the others join it
  handler = (_req, res) => setTimeout(() => res.writeHead(503).end(), 300);
  const stale = await Promise.all([1, 2, 3].map(() => pullTag()));
  for (const r of stale) expect([r.status, r.body.equals(m.data)]).toEqual([200, true]);
  expect(stale.map((r) => r.warning)).toEqual(stale.map(() => expect.stringMatching(/^110 bollard "Response is Stale: /)));
  expect(asked.get('HEAD /v2/img/manifests/stale')).toBe(1);
  // the same, the upstream back: the revalidation confirms the tag, so none of them is marked stale
  handler = (req, res) => setTimeout(() => answer(req, res), 300);
  const fresh = await Promise.all([1, 2, 3].map(() => pullTag()));
  expect(fresh.map((r) => [r.status, r.warning])).toEqual([[200, null], [200, null], [200, null]]);
  expect(asked.get('HEAD /v2/img/manifests/stale')).toBe(2);
  await noFetchLeft();
});
