// The pull-through cache against distribution 2.8.2 with htpasswd Basic auth, on
// loopback: an image pulls through, lands as ordinary rows with exact refcounts,
// is served from the cache once the upstream is gone (a tag past its TTL marked
// stale), and pushes into the proxied prefix are refused.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { countRows, refcountDrift } from '../support/rows.ts';
import { DOCKER_MANIFEST, imageManifest, randomBlob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { basic, listen, pushBlobTo, pushManifestTo, startDistribution, type Distribution } from './upstreams.ts';

const config = randomBlob(300);
const layer = randomBlob(3 * 1024 * 1024 + 17);
const manifest = imageManifest(config, [layer], {}, DOCKER_MANIFEST);

let upstream: Distribution;
let registry: TestRegistry;
let bollard: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  upstream = await startDistribution();
  const auth = basic(upstream.user, upstream.password);
  for (const b of [config, layer]) await pushBlobTo(upstream.url, auth, 'team/app', b);
  await pushManifestTo(upstream.url, auth, 'team/app', 'v1', manifest, DOCKER_MANIFEST);
  registry = await createTestRegistry({
    // a tag TTL of 0: every pull by tag revalidates, so a dead upstream shows as stale at once
    proxy: { upstreams: [{ prefix: 'up', url: upstream.url, username: upstream.user, password: upstream.password }], tagTtlSeconds: 0, timeoutMs: 2000 },
  });
  bollard = await listen(registry.app);
});

afterAll(async () => {
  await bollard?.close();
  await registry?.close();
  await upstream?.stop();
});

const get = (path: string, init: RequestInit = {}) => fetch(`${bollard.url}${path}`, init);

test('an image pulls through the cache: manifest by tag, config and layer, byte for byte', async () => {
  const m = await get('/v2/up/team/app/manifests/v1', { headers: { Accept: DOCKER_MANIFEST } });
  expect(m.status).toBe(200);
  expect(m.headers.get('docker-content-digest')).toBe(manifest.digest);
  expect(m.headers.get('warning')).toBeNull();
  expect(Buffer.from(await m.arrayBuffer()).equals(manifest.data)).toBe(true);
  for (const b of [config, layer]) {
    const res = await get(`/v2/up/team/app/blobs/${b.digest}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(b.digest);
    expect(Buffer.from(await res.arrayBuffer()).equals(b.data)).toBe(true);
  }
  // ordinary content: one blob row each, linked once, the manifest holding both, refcounts exact
  expect(await countRows(registry.pool, 'blobs')).toBe(2);
  expect(await countRows(registry.pool, 'manifests')).toBe(1);
  expect(await countRows(registry.pool, 'manifest_absent')).toBe(0);
  expect(await refcountDrift(registry.pool)).toEqual([]);
});

test('a HEAD of an uncached blob asks the upstream and stores nothing', async () => {
  const other = randomBlob(100);
  await pushBlobTo(upstream.url, basic(upstream.user, upstream.password), 'team/app', other);
  const res = await get(`/v2/up/team/app/blobs/${other.digest}`, { method: 'HEAD' });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-length')).toBe('100');
  expect(await countRows(registry.pool, 'blobs')).toBe(2);
});

test('what the upstream lacks is 404 with the OCI code', async () => {
  const res = await get(`/v2/up/team/app/blobs/${randomBlob(10).digest}`);
  expect(res.status).toBe(404);
  expect(((await res.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('BLOB_UNKNOWN');
  const m = await get('/v2/up/team/nothing/manifests/latest');
  expect(m.status).toBe(404);
  expect(((await m.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('MANIFEST_UNKNOWN');
});

test('pushes and deletes into the proxied prefix are DENIED; other names stay local', async () => {
  const post = await get('/v2/up/team/app/blobs/uploads/', { method: 'POST' });
  expect(post.status).toBe(403);
  expect(((await post.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('DENIED');
  const del = await get(`/v2/up/team/app/manifests/${manifest.digest}`, { method: 'DELETE' });
  expect(del.status).toBe(403);
  expect((await get('/v2/local/app/blobs/uploads/', { method: 'POST' })).status).toBe(202);
});

test('wrong upstream credentials are DENIED, not a server error', async () => {
  const wrong = await createTestRegistry({ proxy: { upstreams: [{ prefix: 'up', url: upstream.url, username: upstream.user, password: 'nope' }], tagTtlSeconds: 0, timeoutMs: 2000 } });
  const server = await listen(wrong.app);
  try {
    const res = await fetch(`${server.url}/v2/up/team/app/manifests/v1`);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('DENIED');
  } finally {
    await server.close();
    await wrong.close();
  }
});

test('with the upstream gone, the cache serves what it holds; a tag past its TTL says it is stale', async () => {
  await upstream.stop();
  const byTag = await get('/v2/up/team/app/manifests/v1', { headers: { Accept: DOCKER_MANIFEST } });
  expect(byTag.status).toBe(200);
  expect(byTag.headers.get('docker-content-digest')).toBe(manifest.digest);
  expect(byTag.headers.get('warning')).toMatch(/^110 /);
  const byDigest = await get(`/v2/up/team/app/manifests/${manifest.digest}`);
  expect(byDigest.status).toBe(200);
  expect(byDigest.headers.get('warning')).toBeNull();
  const res = await get(`/v2/up/team/app/blobs/${layer.digest}`, { headers: { Range: 'bytes=0-9' } });
  expect(res.status).toBe(206);
  expect(Buffer.from(await res.arrayBuffer()).equals(layer.data.subarray(0, 10))).toBe(true);
  // not cached, upstream unreachable: a clean 503
  const missing = await get('/v2/up/team/app/manifests/v2');
  expect(missing.status).toBe(503);
  expect(((await missing.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('UNAVAILABLE');
});

test('metrics count hits, misses, stale answers, upstream errors and bytes per upstream', async () => {
  const text = await (await get('/metrics')).text();
  const value = (series: string) => Number(text.split('\n').find((l) => l.startsWith(`${series} `))?.split(' ')[1] ?? 0);
  expect(value('bollard_proxy_requests_total{upstream="up",kind="manifest",result="miss"}')).toBeGreaterThanOrEqual(1);
  expect(value('bollard_proxy_requests_total{upstream="up",kind="manifest",result="stale"}')).toBe(1);
  expect(value('bollard_proxy_requests_total{upstream="up",kind="blob",result="miss"}')).toBeGreaterThanOrEqual(2);
  expect(value('bollard_proxy_requests_total{upstream="up",kind="blob",result="hit"}')).toBe(1);
  expect(value('bollard_proxy_upstream_errors_total{upstream="up",code="UNAVAILABLE"}')).toBe(1);
  expect(value('bollard_proxy_upstream_bytes_total{upstream="up"}')).toBeGreaterThanOrEqual(layer.size + config.size + manifest.size);
});
