// Per-upstream settings of the pull-through cache against distribution 2.8.2 on
// loopback: an allow-list of names, pushes beside the cached content (a local tag
// wins over the upstream's), the mirror for names under no prefix, and a tag TTL
// and a timeout of an upstream's own.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { refcountDrift } from '../support/rows.ts';
import { DOCKER_MANIFEST, imageManifest, randomBlob, type Blob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { basic, listen, pushBlobTo, pushManifestTo, startDistribution, type Distribution } from './upstreams.ts';

const config = randomBlob(200);
const layer = randomBlob(64 * 1024);
const a = imageManifest(config, [layer], {}, DOCKER_MANIFEST);
const bLayer = randomBlob(100);
const b = imageManifest(config, [bLayer], {}, DOCKER_MANIFEST);
const localBlobs = [randomBlob(50), randomBlob(70)];
const local = imageManifest(localBlobs[0] as Blob, [localBlobs[1] as Blob], {}, DOCKER_MANIFEST);

let upstream: Distribution;
let hang: Awaited<ReturnType<typeof listen>>;
let registry: TestRegistry;
let bollard: Awaited<ReturnType<typeof listen>>;
let auth: string;

async function pushImage(url: string, authorization: string, repo: string, tag: string, m: Blob, blobs: Blob[]): Promise<void> {
  for (const blob of blobs) await pushBlobTo(url, authorization, repo, blob);
  await pushManifestTo(url, authorization, repo, tag, m, DOCKER_MANIFEST);
}

beforeAll(async () => {
  upstream = await startDistribution();
  hang = await listen(() => undefined); // answers nothing, ever
  auth = basic(upstream.user, upstream.password);
  for (const repo of ['team/app', 'other/app']) await pushImage(upstream.url, auth, repo, 'v1', a, [config, layer]);
  const creds = { url: upstream.url, username: upstream.user, password: upstream.password };
  registry = await createTestRegistry({
    proxy: {
      upstreams: [
        { prefix: 'up', ...creds, names: ['team/*'] },
        { prefix: 'rw', ...creds, pushes: true },
        { prefix: 'slow', ...creds, tagTtlSeconds: 3600 },
        { prefix: 'hang', url: hang.url, timeoutMs: 400 },
      ],
      mirror: { ...creds, names: ['team/**'] },
      tagTtlSeconds: 0,
      timeoutMs: 60_000,
    },
  });
  bollard = await listen(registry.app);
});

afterAll(async () => {
  await bollard?.close();
  await registry?.close();
  await hang?.close();
  await upstream?.stop();
});

const get = (path: string, init: RequestInit = {}) => fetch(`${bollard.url}${path}`, init);
const manifest = (repo: string, ref: string) => get(`/v2/${repo}/manifests/${ref}`, { headers: { Accept: DOCKER_MANIFEST } });
const code = async (res: Response) => ((await res.json()) as { errors: Array<{ code: string }> }).errors[0]?.code;

test('allow-list: a name it admits pulls through; another one under the prefix is 404 and never fetched, and takes no pushes', async () => {
  expect((await manifest('up/team/app', 'v1')).headers.get('docker-content-digest')).toBe(a.digest);
  const outside = await manifest('up/other/app', 'v1'); // the upstream has it
  expect(outside.status).toBe(404);
  expect(await code(outside)).toBe('MANIFEST_UNKNOWN');
  const blob = await get(`/v2/up/other/app/blobs/${layer.digest}`);
  expect(blob.status).toBe(404);
  expect(await code(blob)).toBe('BLOB_UNKNOWN');
  const push = await get('/v2/up/other/app/blobs/uploads/', { method: 'POST' });
  expect(push.status).toBe(403);
  expect(await code(push)).toBe('DENIED');
});

test('mirror: a name under no prefix is served from the mirror as sent; pushes there are DENIED; outside its allow-list a name is local', async () => {
  const m = await manifest('team/app', 'v1');
  expect(m.status).toBe(200);
  expect(m.headers.get('docker-content-digest')).toBe(a.digest);
  const blob = await get(`/v2/team/app/blobs/${layer.digest}`);
  expect(Buffer.from(await blob.arrayBuffer()).equals(layer.data)).toBe(true);
  const push = await get('/v2/team/app/blobs/uploads/', { method: 'POST' });
  expect(push.status).toBe(403);
  expect(await code(push)).toBe('DENIED');
  expect((await manifest('other/app', 'v1')).status).toBe(404);
  await pushImage(bollard.url, '', 'other/app', 'mine', local, localBlobs);
  expect((await manifest('other/app', 'mine')).headers.get('docker-content-digest')).toBe(local.digest);
});

test('pushes allowed: a tag pushed here wins over the upstream; a cached tag still follows the upstream; deletes work', async () => {
  expect((await manifest('rw/team/app', 'v1')).headers.get('docker-content-digest')).toBe(a.digest);
  // `mine` exists only here; `v2` names b upstream and `local` here
  await pushImage(upstream.url, auth, 'team/app', 'v2', b, [config, bLayer]);
  await pushImage(bollard.url, '', 'rw/team/app', 'mine', local, localBlobs);
  await pushImage(bollard.url, '', 'rw/team/app', 'v2', local, []);
  for (let i = 0; i < 2; i++) { // the tag TTL is 0: each pull revalidates, and each keeps the local tag
    expect((await manifest('rw/team/app', 'mine')).headers.get('docker-content-digest')).toBe(local.digest);
    expect((await manifest('rw/team/app', 'v2')).headers.get('docker-content-digest')).toBe(local.digest);
  }
  // the upstream moves v1: the cached v1 (a manifest the upstream holds) follows it
  await pushManifestTo(upstream.url, auth, 'team/app', 'v1', b, DOCKER_MANIFEST);
  expect((await manifest('rw/team/app', 'v1')).headers.get('docker-content-digest')).toBe(b.digest);
  const del = await get(`/v2/rw/team/app/manifests/${local.digest}`, { method: 'DELETE' });
  expect(del.status).toBe(202);
  // v2 is the upstream's again once the local one is gone
  expect((await manifest('rw/team/app', 'v2')).headers.get('docker-content-digest')).toBe(b.digest);
  expect(await refcountDrift(registry.pool)).toEqual([]);
});

test("an upstream's own timeout: no answer is 503 within it, though the section's timeout is a minute", async () => {
  const started = Date.now();
  const res = await manifest('hang/img', 'latest');
  expect(res.status).toBe(503);
  expect(await code(res)).toBe('UNAVAILABLE');
  expect(Date.now() - started).toBeLessThan(10_000);
});

test("an upstream's own tag TTL: with the upstream gone, its fresh tag is served as is, the TTL-0 one marked stale", async () => {
  expect((await manifest('slow/other/app', 'v1')).status).toBe(200);
  await upstream.stop();
  const fresh = await manifest('slow/other/app', 'v1');
  expect(fresh.status).toBe(200);
  expect(fresh.headers.get('warning')).toBeNull();
  const stale = await manifest('up/team/app', 'v1');
  expect(stale.status).toBe(200);
  expect(stale.headers.get('warning')).toMatch(/^110 /);
});
