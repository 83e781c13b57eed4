// Sparse manifests (registry.sparseManifests): references to content the repository
// lacks are accepted, answer 404 until pushed, and become real references when it arrives.
import { sql } from 'slonik';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectOciError, pushBlob } from '../support/client.ts';
import { imageIndex, imageManifest, OCI_INDEX, OCI_MANIFEST, randomBlob, sha512, type Blob } from '../support/fixtures.ts';
import { gc } from '../gc/support.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { countRows, refcountDrift } from '../support/rows.ts';

let reg: TestRegistry;
let strict: TestRegistry;
const repo = 'sparse/img';
const config = randomBlob(120);
beforeAll(async () => {
  reg = await createTestRegistry({ sparseManifests: true });
  strict = await createTestRegistry();
  await pushBlob(reg.app, repo, config);
  await pushBlob(strict.app, repo, config);
});
afterAll(async () => {
  await reg.close();
  await strict.close();
});

const put = (r: TestRegistry, ref: string, m: Blob, type = OCI_MANIFEST) =>
  request(r.app).put(`/v2/${repo}/manifests/${ref}`).set('Content-Type', type).send(m.data.toString('utf8'));
const linkRefcount = async (digest: string) =>
  reg.pool.oneFirst(
    sql.unsafe`
      SELECT rb.refcount FROM repository_blobs rb JOIN blobs b ON b.id = rb.blob_id JOIN repositories r ON r.id = rb.repository_id
      WHERE r.name = ${repo} AND b.sha256 = decode(${digest.slice(7)}, 'hex')`,
  );

describe('sparse manifests', () => {
  test('off by default: a manifest naming a missing layer is refused with MANIFEST_BLOB_UNKNOWN', async () => {
    const m = imageManifest(config, [randomBlob(300)]);
    expectOciError(await put(strict, m.digest, m), 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  test('an image without a layer: accepted and pulled; the layer answers 404 until pushed, then is linked and protected', async () => {
    const layer = randomBlob(800);
    const m = imageManifest(config, [layer], { annotations: { s: 'image' } });
    expect((await put(reg, 'img', m)).status).toBe(201);
    expect((await request(reg.app).get(`/v2/${repo}/manifests/img`)).status).toBe(200);
    expectOciError(await request(reg.app).get(`/v2/${repo}/blobs/${layer.digest}`), 404, 'BLOB_UNKNOWN');
    expect(await countRows(reg.pool, 'manifest_absent')).toBe(1);
    await pushBlob(reg.app, repo, layer);
    expect(await countRows(reg.pool, 'manifest_absent')).toBe(0);
    expect(await linkRefcount(layer.digest)).toBe(1);
    expectOciError(await request(reg.app).delete(`/v2/${repo}/blobs/${layer.digest}`), 405, 'UNSUPPORTED');
    expect(await refcountDrift(reg.pool)).toEqual([]);
    expect((await request(reg.app).delete(`/v2/${repo}/manifests/${m.digest}`)).status).toBe(202);
    expect(await linkRefcount(layer.digest)).toBe(0);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('a blob mounted from another repository is linked to the manifest waiting for it', async () => {
    const layer = randomBlob(640);
    await pushBlob(reg.app, 'sparse/other', layer);
    const m = imageManifest(config, [layer], { annotations: { s: 'mount' } });
    expect((await put(reg, m.digest, m)).status).toBe(201);
    const res = await request(reg.app).post(`/v2/${repo}/blobs/uploads/?mount=${layer.digest}&from=sparse/other`);
    expect(res.status).toBe(201);
    expect(await linkRefcount(layer.digest)).toBe(1);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('an index with some platforms: the absent child answers 404, is linked when pushed (by either name), and the index holds it', async () => {
    const present = imageManifest(config, [], { annotations: { s: 'amd64' } });
    const absent = imageManifest(config, [], { annotations: { s: 'arm64' } });
    expect((await put(reg, present.digest, present)).status).toBe(201);
    const idx = imageIndex([{ manifest: present }, { manifest: { ...absent, digest: sha512(absent.data) } }]);
    expect((await put(reg, 'multi', idx, OCI_INDEX)).status).toBe(201);
    expectOciError(await request(reg.app).get(`/v2/${repo}/manifests/${absent.digest}`), 404, 'MANIFEST_UNKNOWN');
    expect((await put(reg, absent.digest, absent)).status).toBe(201);
    expect(await countRows(reg.pool, 'manifest_absent')).toBe(0);
    expectOciError(await request(reg.app).delete(`/v2/${repo}/manifests/${absent.digest}`), 405, 'UNSUPPORTED');
    expect(await refcountDrift(reg.pool)).toEqual([]);
    expect((await request(reg.app).delete(`/v2/${repo}/manifests/multi`)).status).toBe(202);
    expect((await request(reg.app).delete(`/v2/${repo}/manifests/${idx.digest}`)).status).toBe(202);
    expect((await request(reg.app).delete(`/v2/${repo}/manifests/${absent.digest}`)).status).toBe(202);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('content of another size than declared stays absent; deleting the manifest drops its absent references', async () => {
    const layer = randomBlob(500);
    const m = imageManifest(config, [{ ...layer, size: 499 }], { annotations: { s: 'size' } });
    expect((await put(reg, m.digest, m)).status).toBe(201);
    await pushBlob(reg.app, repo, layer);
    expect(await linkRefcount(layer.digest)).toBe(0);
    expect(await countRows(reg.pool, 'manifest_absent')).toBe(1);
    expect((await request(reg.app).delete(`/v2/${repo}/manifests/${m.digest}`)).status).toBe(202);
    expect(await countRows(reg.pool, 'manifest_absent')).toBe(0);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('garbage collection: an untagged sparse manifest and what it linked are collected', async () => {
    const layer = randomBlob(700);
    const m = imageManifest(config, [layer], { annotations: { s: 'gc' } });
    expect((await put(reg, m.digest, m)).status).toBe(201);
    await pushBlob(reg.app, repo, layer);
    await gc(reg, { untagged: 'delete' });
    expectOciError(await request(reg.app).get(`/v2/${repo}/manifests/${m.digest}`), 404, 'MANIFEST_UNKNOWN');
    expectOciError(await request(reg.app).get(`/v2/${repo}/blobs/${layer.digest}`), 404, 'BLOB_UNKNOWN');
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });
});
