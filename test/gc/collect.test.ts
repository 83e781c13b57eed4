// The online collector: what it deletes, what it keeps, and that a reference
// coming back before the review wins. Real PostgreSQL, the test run's storage.
import { sql } from 'slonik';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createBlake3 } from '../../src/digest/blake3.ts';
import { blobKey } from '../../src/storage/blob-store.ts';
import { pushBlob, pushManifest } from '../support/client.ts';
import { emptyConfig, imageIndex, imageManifest, OCI_INDEX, OCI_MANIFEST, randomBlob, type Blob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { refcountDrift } from '../support/rows.ts';
import { expectPullable, expectStorageMatchesRows, gc, getBlob, storedKeys, targets } from './support.ts';

let reg: TestRegistry;
beforeEach(async () => {
  reg = await createTestRegistry();
});
afterEach(async () => {
  await reg.close();
});

async function pushImage(repo: string, ref: string, layers: Blob[] = [randomBlob(2048)], extra: Record<string, unknown> = {}): Promise<Blob> {
  for (const l of [emptyConfig, ...layers]) await pushBlob(reg.app, repo, l);
  const m = imageManifest(emptyConfig, layers, extra);
  await pushManifest(reg.app, repo, ref, m, OCI_MANIFEST);
  return m;
}

async function eventKinds(): Promise<string[]> {
  return [...(await reg.pool.anyFirst(sql.type(z.object({ k: z.string() }))`SELECT kind || ':' || coalesce(repository, '') AS k FROM events WHERE kind = 'gc.delete' ORDER BY id`))];
}

describe('online garbage collection', () => {
  it('collects a blob no manifest references once the review delay has passed: link, row, then bytes', async () => {
    const layer = randomBlob(4096);
    await pushBlob(reg.app, 'lib/a', layer);
    expect(targets(await gc(reg, { reviewDelay: 3600 }))).toEqual([]);
    expect((await getBlob(reg.app, 'lib/a', layer.digest)).status).toBe(200);

    const report = await gc(reg);
    expect(targets(report)).toEqual([`blob @${layer.digest}`, `link lib/a@${layer.digest}`]);
    expect(report.bytesFreed).toBe(4096);
    expect((await getBlob(reg.app, 'lib/a', layer.digest)).status).toBe(404);
    expect(await storedKeys(reg.store)).toEqual([]);
    expect(await eventKinds()).toEqual(['gc.delete:lib/a', 'gc.delete:']);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  it('keeps bytes another repository still references, and drops only the dangling link', async () => {
    const layer = randomBlob();
    await pushBlob(reg.app, 'a', layer);
    await pushImage('b', 'v1', [layer]);
    expect(targets(await gc(reg))).toEqual([`link a@${layer.digest}`]);
    await expectPullable(reg.app, 'b', layer.digest);
    expect((await getBlob(reg.app, 'a', layer.digest)).status).toBe(404);
    await expectStorageMatchesRows(reg);
  });

  it('keeps untagged manifests under the keep policy, and collects them with what they alone held under delete', async () => {
    const shared = randomBlob();
    const m = await pushImage('app', 'v1', [shared, randomBlob()]);
    await pushImage('app', 'v2', [shared]);
    expect((await request(reg.app).delete('/v2/app/manifests/v1')).status).toBe(202);

    expect(targets(await gc(reg, { untagged: 'keep' }))).toEqual([]);
    expect((await request(reg.app).get(`/v2/app/manifests/${m.digest}`)).status).toBe(200);

    const report = await gc(reg, { untagged: 'delete' });
    expect(report.deleted.filter((d) => d.target === 'manifest').map((d) => d.digest)).toEqual([m.digest]);
    expect(report.deleted.filter((d) => d.target === 'blob')).toHaveLength(1); // the layer only v1 had
    expect((await request(reg.app).get(`/v2/app/manifests/${m.digest}`)).status).toBe(404);
    await expectPullable(reg.app, 'app', shared.digest);
    await expectPullable(reg.app, 'app', emptyConfig.digest);
    await expectStorageMatchesRows(reg);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  it('never collects a manifest an index lists; deleting the index frees its platform manifests', async () => {
    const amd = await pushImage('multi', sha('amd'), [randomBlob()]);
    const arm = await pushImage('multi', sha('arm'), [randomBlob()]);
    // the platform manifests were pushed by tag above only to get them in; untag them
    for (const t of [sha('amd'), sha('arm')]) await request(reg.app).delete(`/v2/multi/manifests/${t}`);
    const index = imageIndex([{ manifest: amd }, { manifest: arm }]);
    await pushManifest(reg.app, 'multi', 'latest', index, OCI_INDEX);
    expect(targets(await gc(reg, { untagged: 'delete' }))).toEqual([]);

    expect((await request(reg.app).delete(`/v2/multi/manifests/${index.digest}`)).status).toBe(202);
    const report = await gc(reg, { untagged: 'delete' });
    expect(report.deleted.filter((d) => d.target === 'manifest').map((d) => d.digest).sort()).toEqual([amd.digest, arm.digest].sort());
    expect(await storedKeys(reg.store)).toEqual([]);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  it('keeps a referrer while its subject is present and collects it once the subject is gone (policy, default on)', async () => {
    const subject = await pushImage('signed', 'v1');
    const subjectDescriptor = { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.size };
    const sig = await pushImage('signed', 'placeholder', [randomBlob(100)], { subject: subjectDescriptor, artifactType: 'application/x.sig' });
    await request(reg.app).delete('/v2/signed/manifests/placeholder');
    const report = await gc(reg, { untagged: 'delete' });
    expect(report.deleted.filter((d) => d.target === 'manifest')).toEqual([]);
    expect(report.kept).toBe(1);

    expect((await request(reg.app).delete(`/v2/signed/manifests/${subject.digest}`)).status).toBe(202);
    expect(targets(await gc(reg, { untagged: 'keep', orphanReferrers: false })).filter((t) => t.startsWith('manifest'))).toEqual([]);
    expect((await request(reg.app).get(`/v2/signed/manifests/${sig.digest}`)).status).toBe(200);

    // re-queue the referrer as its subject's deletion did, then collect with the policy on
    await reg.pool.query(sql.unsafe`INSERT INTO gc_manifest_reviews (manifest_id) SELECT id FROM manifests WHERE digest = ${sig.digest}`);
    const after = await gc(reg, { untagged: 'keep', orphanReferrers: true });
    expect(after.deleted.filter((d) => d.target === 'manifest').map((d) => d.digest)).toEqual([sig.digest]);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  it('drops the review when the content is referenced again before it: a new manifest, or a new link', async () => {
    const layer = randomBlob();
    await pushBlob(reg.app, 'r', layer);
    await pushImage('r', 'v1', [layer]); // the dangling link is referenced now
    expect(targets(await gc(reg))).toEqual([]);

    const lone = randomBlob();
    await pushBlob(reg.app, 'x', lone);
    expect((await request(reg.app).delete(`/v2/x/blobs/${lone.digest}`)).status).toBe(202); // unlinked: the blob is queued
    await pushBlob(reg.app, 'y', lone); // linked again elsewhere before the review
    await pushImage('y', 'v1', [lone]);
    expect(targets(await gc(reg))).toEqual([]);
    await expectPullable(reg.app, 'y', lone.digest);
  });

  it('a dry run reports the whole cascade a real pass then performs, and changes nothing', async () => {
    await pushImage('d', 'v1', [randomBlob(), randomBlob()]);
    await request(reg.app).delete('/v2/d/manifests/v1');
    await pushBlob(reg.app, 'd', randomBlob());
    const before = await storedKeys(reg.store);

    const dry = await gc(reg, { untagged: 'delete' }, true);
    expect(dry.dryRun).toBe(true);
    expect(dry.deleted.map((d) => d.target).sort()).toEqual(['blob', 'blob', 'blob', 'blob', 'link', 'link', 'link', 'link', 'manifest']);
    expect(await storedKeys(reg.store)).toEqual(before);
    expect(await eventKinds()).toEqual([]);

    const real = await gc(reg, { untagged: 'delete' });
    expect(targets(real)).toEqual(targets(dry));
    expect(await storedKeys(reg.store)).toEqual([]);
  });

  it('defers bytes an upload has pinned, and collects them once the pin is gone', async () => {
    const layer = randomBlob();
    await pushBlob(reg.app, 'p', layer);
    const key = await keyOf(layer);
    await reg.pool.query(sql.unsafe`
      INSERT INTO blob_pins (token, blake3, expires_at) VALUES (gen_random_uuid(), ${sql.binary(key)}, now() + interval '1 hour')`);
    const report = await gc(reg);
    expect(targets(report)).toEqual([`link p@${layer.digest}`]);
    expect(report.deferred).toBe(1);
    expect(await storedKeys(reg.store)).toEqual([key.toString('hex')]);

    await reg.pool.query(sql.unsafe`DELETE FROM blob_pins`);
    expect(targets(await gc(reg))).toEqual([`blob @${layer.digest}`]);
    expect(await storedKeys(reg.store)).toEqual([]);
  });

  it('an upload of content a collector is deleting waits for it, then writes the bytes again', async () => {
    const layer = randomBlob(10_000);
    const key = await keyOf(layer);
    // the collector's state between its commit and deleting the bytes: fence in, bytes still there
    const state = await reg.store.startUpload(crypto.randomUUID());
    const { Readable } = await import('node:stream');
    await reg.store.completeUpload(await reg.store.appendUpload(state, Readable.from([layer.data])), blobKey(key));
    await reg.pool.query(sql.unsafe`INSERT INTO blob_deletions (blake3) VALUES (${sql.binary(key)})`);

    const upload = pushBlob(reg.app, 'w', layer);
    await new Promise((r) => setTimeout(r, 300));
    await reg.store.delete(blobKey(key)); // the collector finishes: bytes, then fence
    await reg.pool.query(sql.unsafe`DELETE FROM blob_deletions`);
    await upload;
    await expectPullable(reg.app, 'w', layer.digest);
  });

  it('keeps every refcount equal to a recount after each API operation and each pass', async () => {
    const check = async () => expect(await refcountDrift(reg.pool)).toEqual([]);
    const l1 = randomBlob();
    const l2 = randomBlob();
    await pushBlob(reg.app, 'c', l1); await check();
    const m1 = await pushImage('c', 'v1', [l1]); await check();
    const m2 = await pushImage('c', 'v2', [l1, l2]); await check();
    await pushManifest(reg.app, 'c', 'v1', m2, OCI_MANIFEST); await check(); // tag move
    await pushManifest(reg.app, 'c', 'idx', imageIndex([{ manifest: m1 }, { manifest: m2 }]), OCI_INDEX); await check();
    expect((await request(reg.app).post(`/v2/d/blobs/uploads/?mount=${l2.digest}&from=c`)).status).toBe(201); await check();
    const session = await request(reg.app).post('/v2/c/blobs/uploads/');
    await request(reg.app).delete(session.headers['location'] as string); await check();
    await request(reg.app).delete('/v2/c/manifests/idx'); await check();
    await request(reg.app).delete(`/v2/d/blobs/${l2.digest}`); await check();
    await gc(reg, { untagged: 'delete' }); await check();
    await request(reg.app).delete(`/v2/c/manifests/${m2.digest}`); await check();
    await gc(reg, { untagged: 'delete' }); await check();
    expect(await storedKeys(reg.store)).toEqual([]);
  });
});

function sha(label: string): string {
  return `tmp-${label}`;
}

async function keyOf(b: Blob): Promise<Buffer> {
  const h = createBlake3();
  h.update(b.data);
  return h.digest();
}
