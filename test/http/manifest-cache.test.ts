// Two replicas (apps) on one database, each with its own manifest cache kept
// coherent by LISTEN/NOTIFY: a tag moved or deleted through one is never served
// stale by the other for longer than the notification takes, and never by the
// replica that made the change.
import request from 'supertest';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { listenForChanges, type Listener } from '../../src/db/notify.ts';
import { createLogger } from '../../src/logger.ts';
import { ManifestCache } from '../../src/registry/content/manifest-cache.ts';
import { pushBlob, pushManifest } from '../support/client.ts';
import { imageManifest, OCI_MANIFEST, randomBlob } from '../support/fixtures.ts';
import { createTestRegistry, DEFAULT_OPTIONS, type TestRegistry } from '../support/registry.ts';

let reg: TestRegistry;
const listeners: Listener[] = [];
const replicas: Array<{ app: ReturnType<typeof createApp>; cache: ManifestCache }> = [];

beforeAll(async () => {
  reg = await createTestRegistry();
  for (let i = 0; i < 2; i++) {
    const cache = new ManifestCache();
    const log = createLogger('silent');
    listeners.push(listenForChanges(reg.db.url, { onChange: (r) => cache.invalidate(r), onState: (on) => cache.setEnabled(on) }, log));
    replicas.push({ app: createApp({ pool: reg.pool, store: reg.store, log, options: DEFAULT_OPTIONS, manifestCache: cache }), cache });
  }
  await until(async () => replicas.every((r) => r.cache.isEnabled));
});
afterAll(async () => {
  for (const l of listeners) await l.close();
  await reg.close();
});

async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const digestOf = async (app: ReturnType<typeof createApp>, ref: string) => {
  const res = await request(app).head(`/v2/cache/app/manifests/${ref}`);
  return res.status === 200 ? (res.headers['docker-content-digest'] as string) : res.status;
};

test('a tag moved or deleted on one replica is seen by the other', async () => {
  const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
  const config = randomBlob(10);
  const layer = randomBlob(10);
  for (const x of [config, layer]) await pushBlob(a.app, 'cache/app', x);
  const one = imageManifest(config, [layer], { annotations: { v: '1' } });
  const two = imageManifest(config, [layer], { annotations: { v: '2' } });
  await pushManifest(a.app, 'cache/app', 'latest', one, OCI_MANIFEST);
  expect(await digestOf(b.app, 'latest')).toBe(one.digest);
  // B now serves it from memory (once the push's own notification, which may arrive late under load, has passed)
  await until(async () => (await digestOf(b.app, 'latest')) === one.digest && b.cache.get('cache/app', 'latest')?.digest === one.digest);

  await pushManifest(a.app, 'cache/app', 'latest', two, OCI_MANIFEST);
  expect(await digestOf(a.app, 'latest')).toBe(two.digest); // the writer reads its write at once
  await until(async () => (await digestOf(b.app, 'latest')) === two.digest);

  expect((await request(a.app).delete('/v2/cache/app/manifests/latest')).status).toBe(202);
  expect(await digestOf(a.app, 'latest')).toBe(404);
  await until(async () => (await digestOf(b.app, 'latest')) === 404);

  expect(await digestOf(b.app, two.digest)).toBe(two.digest);
  expect((await request(a.app).delete(`/v2/cache/app/manifests/${two.digest}`)).status).toBe(202);
  await until(async () => (await digestOf(b.app, two.digest)) === 404);
});
