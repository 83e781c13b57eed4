// The bearer-token flow against a real upstream: a second Bollard in token mode.
// The cache answers its challenge at the token endpoint it names, with the
// configured credentials, and pulls an image through; wrong credentials are DENIED.
import request from 'supertest';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createAuth } from '../../src/auth/service.ts';
import { loadConfig } from '../../src/config/index.ts';
import { authConfig } from '../../src/config/runtime.ts';
import { createLogger } from '../../src/logger.ts';
import { pushBlob, pushManifest } from '../support/client.ts';
import { OCI_MANIFEST, imageManifest, randomBlob } from '../support/fixtures.ts';
import { createTestRegistry, DEFAULT_OPTIONS, type TestRegistry } from '../support/registry.ts';
import { listen } from './upstreams.ts';

const PASSWORD = 'upstream-admin-password-1';
const config = randomBlob(200);
const layer = randomBlob(512 * 1024);
const manifest = imageManifest(config, [layer]);

let upstream: TestRegistry;
let tokenServer: Awaited<ReturnType<typeof listen>>;
const caches: Array<{ registry: TestRegistry; server: Awaited<ReturnType<typeof listen>> }> = [];

beforeAll(async () => {
  upstream = await createTestRegistry();
  // the image goes in through the open app; the token-mode app serves the same database and storage
  for (const b of [config, layer]) await pushBlob(upstream.app, 'team/app', b);
  await pushManifest(upstream.app, 'team/app', 'v1', manifest, OCI_MANIFEST);
  const log = createLogger('silent');
  const auth = await createAuth(upstream.pool, authConfig(loadConfig({ BOLLARD_AUTH: 'token', BOLLARD_ADMIN_PASSWORD: PASSWORD })), log);
  tokenServer = await listen(createApp({ pool: upstream.pool, store: upstream.store, log, options: DEFAULT_OPTIONS, auth }));
});

afterAll(async () => {
  for (const c of caches) {
    await c.server.close();
    await c.registry.close();
  }
  await tokenServer?.close();
  await upstream?.close();
});

async function cacheWith(password: string) {
  const registry = await createTestRegistry({
    proxy: { upstreams: [{ prefix: 'tok', url: tokenServer.url, username: 'admin', password }], tagTtlSeconds: 300, timeoutMs: 5000 },
  });
  const server = await listen(registry.app);
  caches.push({ registry, server });
  return server;
}

test('the upstream really asks for a token', async () => {
  const res = await request(tokenServer.server).get('/v2/team/app/manifests/v1');
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="[^"]+\/token",service="bollard",scope="repository:team\/app:pull"/);
});

test('an image pulls through a cache whose upstream is Bollard in token mode', async () => {
  const cache = await cacheWith(PASSWORD);
  const m = await fetch(`${cache.url}/v2/tok/team/app/manifests/v1`);
  expect(m.status).toBe(200);
  expect(m.headers.get('docker-content-digest')).toBe(manifest.digest);
  for (const b of [config, layer]) {
    const res = await fetch(`${cache.url}/v2/tok/team/app/blobs/${b.digest}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(b.data)).toBe(true);
  }
});

test('wrong credentials at the token endpoint are DENIED', async () => {
  const cache = await cacheWith('not-the-password');
  const res = await fetch(`${cache.url}/v2/tok/team/app/manifests/v1`);
  expect(res.status).toBe(403);
  expect(((await res.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('DENIED');
});
