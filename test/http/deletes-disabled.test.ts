import request from 'supertest';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { expectOciError, pushBlob, pushManifest } from '../support/client.ts';
import { imageManifest, OCI_MANIFEST, randomBlob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';

let reg: TestRegistry;
beforeAll(async () => {
  reg = await createTestRegistry({ deleteEnabled: false, autoMount: false });
});
afterAll(() => reg.close());

test('with deletes disabled, every DELETE of content is 405 UNSUPPORTED and nothing goes', async () => {
  const config = randomBlob(10);
  const layer = randomBlob(10);
  await pushBlob(reg.app, 'ro/app', config);
  await pushBlob(reg.app, 'ro/app', layer);
  const m = imageManifest(config, [layer]);
  await pushManifest(reg.app, 'ro/app', 'v1', m, OCI_MANIFEST);
  expectOciError(await request(reg.app).delete(`/v2/ro/app/manifests/${m.digest}`), 405, 'UNSUPPORTED');
  expectOciError(await request(reg.app).delete('/v2/ro/app/manifests/v1'), 405, 'UNSUPPORTED');
  expectOciError(await request(reg.app).delete(`/v2/ro/app/blobs/${layer.digest}`), 405, 'UNSUPPORTED');
  expect((await request(reg.app).head('/v2/ro/app/manifests/v1')).status).toBe(200);
  expect((await request(reg.app).head(`/v2/ro/app/blobs/${layer.digest}`)).status).toBe(200);
});

test('with automatic mount off, a mount without from opens a session instead', async () => {
  const b = randomBlob(10);
  await pushBlob(reg.app, 'ro/src', b);
  const res = await request(reg.app).post(`/v2/ro/dst/blobs/uploads/?mount=${b.digest}`);
  expect(res.status).toBe(202);
});
