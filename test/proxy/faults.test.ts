// A bad upstream (a tiny HTTP server of the test's own, on loopback): wrong bytes,
// a body cut off or stalled, 5xx, 429, no answer, TLS spoken to a plain server.
// Each gives the client a clean OCI error within the timeout, or a body cut short
// of its length once bytes are out, and commits nothing. Also the bearer-token
// flow, with its token fetched once and cached.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { countRows, refcountDrift } from '../support/rows.ts';
import { DOCKER_MANIFEST, imageManifest, randomBlob, type Blob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { listen } from './upstreams.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler = (_req, res) => res.writeHead(404).end();
let upstream: Awaited<ReturnType<typeof listen>>;
let registry: TestRegistry;
let tlsRegistry: TestRegistry;
let bollard: Awaited<ReturnType<typeof listen>>;
let tlsBollard: Awaited<ReturnType<typeof listen>>;

const TIMEOUT_MS = 600;

beforeAll(async () => {
  upstream = await listen((req: IncomingMessage, res: ServerResponse) => handler(req, res));
  const proxy = (url: string) => ({ upstreams: [{ prefix: 'up', url, username: 'u', password: 'p' }], tagTtlSeconds: 0, timeoutMs: TIMEOUT_MS });
  registry = await createTestRegistry({ proxy: proxy(upstream.url) });
  bollard = await listen(registry.app);
  tlsRegistry = await createTestRegistry({ proxy: proxy(upstream.url.replace('http:', 'https:')) });
  tlsBollard = await listen(tlsRegistry.app);
});

afterEach(() => {
  upstream.server.closeAllConnections(); // stalled responses of a test end with it
});

afterAll(async () => {
  await bollard?.close();
  await tlsBollard?.close();
  await registry?.close();
  await tlsRegistry?.close();
  await upstream?.close();
});

async function ociError(res: Response): Promise<string | undefined> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return ((await res.json()) as { errors: Array<{ code: string }> }).errors[0]?.code;
}

/** Nothing was committed or left staged. */
async function expectNothingStored(): Promise<void> {
  expect(await countRows(registry.pool, 'blobs')).toBe(0);
  expect(await countRows(registry.pool, 'manifests')).toBe(0);
  for (const area of ['objects', 'uploads'] as const) {
    const left = [];
    for await (const o of registry.store.list(area)) left.push(o.key);
    expect(left, area).toEqual([]);
  }
}

/** Reads the body; the error when it is cut short. */
async function bodyOf(res: Response): Promise<Buffer | Error> {
  return res.arrayBuffer().then((b) => Buffer.from(b), (e: unknown) => e as Error);
}

const blobPath = (b: Blob) => `/v2/up/img/blobs/${b.digest}`;

test('a blob whose bytes do not match its digest: the client never gets the whole body, nothing commits', async () => {
  const asked = randomBlob(2 * 1024 * 1024);
  const sent = randomBlob(asked.size);
  handler = (_req, res) => res.writeHead(200, { 'Content-Length': sent.size }).end(sent.data);
  const res = await fetch(`${bollard.url}${blobPath(asked)}`);
  expect(res.status).toBe(200);
  const body = await bodyOf(res);
  expect(body instanceof Error || body.length < asked.size).toBe(true);
  await expectNothingStored();
});

test('an upstream killed mid-blob: the client sees the body cut, nothing commits', async () => {
  const b = randomBlob(4 * 1024 * 1024);
  handler = (_req, res) => {
    res.writeHead(200, { 'Content-Length': b.size });
    res.write(b.data.subarray(0, 1024 * 1024), () => res.socket?.destroy());
  };
  const body = await bodyOf(await fetch(`${bollard.url}${blobPath(b)}`));
  expect(body instanceof Error || body.length < b.size).toBe(true);
  await expectNothingStored();
});

test('an upstream stalling mid-blob is cut off after the timeout; nothing commits', async () => {
  const b = randomBlob(1024 * 1024);
  handler = (_req, res) => {
    res.writeHead(200, { 'Content-Length': b.size });
    res.write(b.data.subarray(0, 1000)); // and then nothing
  };
  const started = Date.now();
  const body = await bodyOf(await fetch(`${bollard.url}${blobPath(b)}`));
  expect(body instanceof Error || body.length < b.size).toBe(true);
  expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 4000);
  await expectNothingStored();
});

test('an upstream that never answers: 503 UNAVAILABLE within the timeout', async () => {
  handler = () => undefined;
  const started = Date.now();
  const res = await fetch(`${bollard.url}/v2/up/img/manifests/latest`);
  expect(res.status).toBe(503);
  expect(await ociError(res)).toBe('UNAVAILABLE');
  expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 4000);
});

test('5xx is 503 UNAVAILABLE; 429 is 429 TOOMANYREQUESTS with the upstream Retry-After, in seconds or as an HTTP date', async () => {
  handler = (_req, res) => res.writeHead(502).end('bad gateway');
  const five = await fetch(`${bollard.url}${blobPath(randomBlob(10))}`);
  expect(five.status).toBe(503);
  expect(await ociError(five)).toBe('UNAVAILABLE');
  handler = (_req, res) => res.writeHead(429, { 'Retry-After': '7' }).end();
  const many = await fetch(`${bollard.url}/v2/up/img/manifests/latest`);
  expect(many.status).toBe(429);
  expect(many.headers.get('retry-after')).toBe('7');
  expect(await ociError(many)).toBe('TOOMANYREQUESTS');
  // an HTTP date is passed on as the seconds left until it; one already past is 0
  handler = (_req, res) => res.writeHead(429, { 'Retry-After': new Date(Date.now() + 120_000).toUTCString() }).end();
  const dated = await fetch(`${bollard.url}/v2/up/img/manifests/latest`);
  expect(dated.status).toBe(429);
  expect(Number(dated.headers.get('retry-after'))).toBeGreaterThanOrEqual(115);
  expect(Number(dated.headers.get('retry-after'))).toBeLessThanOrEqual(121);
  handler = (_req, res) => res.writeHead(429, { 'Retry-After': 'Wed, 21 Oct 2015 07:28:00 GMT' }).end();
  expect((await fetch(`${bollard.url}/v2/up/img/manifests/latest`)).headers.get('retry-after')).toBe('0');
  handler = (_req, res) => res.writeHead(429, { 'Retry-After': 'soon' }).end();
  expect((await fetch(`${bollard.url}/v2/up/img/manifests/latest`)).headers.get('retry-after')).toBeNull();
  await expectNothingStored();
});

test('a manifest whose bytes do not match the digest asked for: 503, nothing commits', async () => {
  const m = imageManifest(randomBlob(10), [randomBlob(10)], {}, DOCKER_MANIFEST);
  const other = imageManifest(randomBlob(10), [randomBlob(10)], {}, DOCKER_MANIFEST);
  handler = (_req, res) => res.writeHead(200, { 'Content-Type': DOCKER_MANIFEST }).end(other.data);
  const res = await fetch(`${bollard.url}/v2/up/img/manifests/${m.digest}`);
  expect(res.status).toBe(503);
  expect(await ociError(res)).toBe('UNAVAILABLE');
  await expectNothingStored();
});

test('TLS to an upstream that speaks plain HTTP: 503 UNAVAILABLE', async () => {
  handler = (_req, res) => res.writeHead(404).end();
  const res = await fetch(`${tlsBollard.url}/v2/up/img/manifests/latest`);
  expect(res.status).toBe(503);
  expect(await ociError(res)).toBe('UNAVAILABLE');
});

test('the bearer-token flow: realm, service and scope; the token is fetched with the credentials once and cached', async () => {
  const m = imageManifest(randomBlob(10), [randomBlob(10)], {}, DOCKER_MANIFEST);
  const tokenRequests: string[] = [];
  handler = (req, res) => {
    const url = new URL(req.url ?? '/', upstream.url);
    if (url.pathname === '/token') {
      tokenRequests.push(`${url.searchParams.get('service')} ${url.searchParams.get('scope')} ${req.headers.authorization}`);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: 'tok', expires_in: 300 }));
    } else if (req.headers.authorization !== 'Bearer tok') {
      res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="${upstream.url}/token",service="fake",scope="repository:img:pull"` }).end();
    } else {
      res.writeHead(200, { 'Content-Type': DOCKER_MANIFEST, 'Docker-Content-Digest': m.digest }).end(req.method === 'HEAD' ? undefined : m.data);
    }
  };
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${bollard.url}/v2/up/img/manifests/v1`, { headers: { Accept: DOCKER_MANIFEST } });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(m.digest);
  }
  expect(tokenRequests).toEqual([`fake repository:img:pull Basic ${Buffer.from('u:p').toString('base64')}`]);
});

test('a client gone mid-blob: the fetch completes and the blob is cached all the same', async () => {
  const b = randomBlob(8 * 1024 * 1024);
  handler = (_req, res) => {
    res.writeHead(200, { 'Content-Length': b.size });
    res.write(b.data.subarray(0, 64 * 1024));
    setTimeout(() => res.end(b.data.subarray(64 * 1024)), 200); // the rest once the client has left
  };
  const abort = new AbortController();
  const res = await fetch(`${bollard.url}${blobPath(b)}`, { signal: abort.signal });
  const reader = res.body!.getReader();
  await reader.read();
  abort.abort();
  const blobs = () => countRows(registry.pool, 'blobs'); // the only blob any test here stores
  for (let i = 0; i < 100 && (await blobs()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect(await blobs()).toBe(1);
  handler = (_req, r) => r.writeHead(500).end(); // served from the cache now, not the upstream
  const again = await fetch(`${bollard.url}${blobPath(b)}`);
  expect(again.status).toBe(200);
  expect(Buffer.from(await again.arrayBuffer()).equals(b.data)).toBe(true);
});

test('a tag moved upstream moves in the cache at revalidation; refcounts stay exact', async () => {
  const a = imageManifest(randomBlob(10), [randomBlob(10)], {}, DOCKER_MANIFEST);
  const b = imageManifest(randomBlob(10), [randomBlob(10)], {}, DOCKER_MANIFEST);
  let current = a;
  handler = (req, res) => {
    res.writeHead(200, { 'Content-Type': DOCKER_MANIFEST, 'Docker-Content-Digest': current.digest }).end(req.method === 'HEAD' ? undefined : current.data);
  };
  const pull = () => fetch(`${bollard.url}/v2/up/moving/manifests/latest`, { headers: { Accept: DOCKER_MANIFEST } });
  expect((await pull()).headers.get('docker-content-digest')).toBe(a.digest);
  current = b;
  expect((await pull()).headers.get('docker-content-digest')).toBe(b.digest);
  expect(await refcountDrift(registry.pool)).toEqual([]);
});
