// One identity per content: a manifest's sha256 and sha512 names reach one row; a tag
// answers in the algorithm it was pushed with; DELETE by either name removes the content.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectOciError, pushBlob } from '../support/client.ts';
import { blob, imageIndex, imageManifest, OCI_INDEX, OCI_MANIFEST, randomBlob, sha512, type Blob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { countRows, refcountDrift } from '../support/rows.ts';

let reg: TestRegistry;
const repo = 'names/img';
const config = randomBlob(100);
const layer = randomBlob(900);
beforeAll(async () => {
  reg = await createTestRegistry();
  for (const b of [config, layer]) await pushBlob(reg.app, repo, b);
});
afterAll(() => reg.close());

const put = (ref: string, m: Blob, type = OCI_MANIFEST) =>
  request(reg.app).put(`/v2/${repo}/manifests/${ref}`).set('Content-Type', type).send(m.data.toString('utf8'));
const get = (ref: string) => request(reg.app).get(`/v2/${repo}/manifests/${ref}`);
const del = (ref: string) => request(reg.app).delete(`/v2/${repo}/manifests/${ref}`);

describe('digest names', () => {
  test('pushed by sha512 with ?tag=: the tag answers sha512, each name answers itself, one row', async () => {
    const m = imageManifest(config, [layer], { annotations: { n: '1' } });
    const before = await countRows(reg.pool, 'manifests');
    const res = await put(`${sha512(m.data)}?tag=t512`, m);
    expect(res.status).toBe(201);
    expect(res.headers['docker-content-digest']).toBe(sha512(m.data));
    expect(res.headers['location']).toBe(`/v2/${repo}/manifests/${sha512(m.data)}`);
    expect((await get('t512')).headers['docker-content-digest']).toBe(sha512(m.data));
    expect((await get(m.digest)).headers['docker-content-digest']).toBe(m.digest);
    expect((await get(sha512(m.data))).headers['docker-content-digest']).toBe(sha512(m.data));
    expect((await put(m.digest, m)).status).toBe(201); // the same bytes by sha256: no second row
    expect(await countRows(reg.pool, 'manifests')).toBe(before + 1);
    expect((await put('t256', m)).status).toBe(201);
    expect((await get('t256')).headers['docker-content-digest']).toBe(m.digest);
    expect((await get('t512')).headers['docker-content-digest']).toBe(sha512(m.data));
    // re-pushing the tag with the other algorithm moves its answer
    expect((await put(`${m.digest}?tag=t512`, m)).status).toBe(201);
    expect((await get('t512')).headers['docker-content-digest']).toBe(m.digest);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('DELETE by sha512 removes the content, its sha256 name and its tags', async () => {
    const m = imageManifest(config, [layer], { annotations: { n: '2' } });
    expect((await put('keep-a', m)).status).toBe(201);
    expect((await put(`${sha512(m.data)}?tag=keep-b`, m)).status).toBe(201);
    expect((await del(sha512(m.data))).status).toBe(202);
    for (const ref of [m.digest, sha512(m.data), 'keep-a', 'keep-b']) expectOciError(await get(ref), 404, 'MANIFEST_UNKNOWN');
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('an index listing a child by sha512: the child is protected under both names until the index goes', async () => {
    const child = imageManifest(config, [layer], { annotations: { n: 'child' } });
    expect((await put(child.digest, child)).status).toBe(201);
    const byName = { ...child, digest: sha512(child.data) };
    const idx = imageIndex([{ manifest: byName }]);
    expect((await put(`${sha512(idx.data)}?tag=idx`, idx, OCI_INDEX)).status).toBe(201);
    for (const name of [child.digest, sha512(child.data)]) {
      const refused = await del(name);
      expectOciError(refused, 405, 'UNSUPPORTED');
      expect(refused.body.errors[0].message).toContain(`listed by index ${idx.digest}`);
    }
    expect((await del(sha512(idx.data))).status).toBe(202);
    expectOciError(await get(idx.digest), 404, 'MANIFEST_UNKNOWN');
    expect((await del(sha512(child.data))).status).toBe(202);
    expectOciError(await get(child.digest), 404, 'MANIFEST_UNKNOWN');
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('referrers of either name of a subject, each reported in the algorithm asked with', async () => {
    const subject = imageManifest(config, [layer], { annotations: { n: 'subject' } });
    expect((await put(subject.digest, subject)).status).toBe(201);
    const empty = blob('{}');
    await pushBlob(reg.app, repo, empty);
    const referrer = blob(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/vnd.example.sig',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: empty.digest, size: empty.size },
      layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: empty.digest, size: empty.size }],
      subject: { mediaType: OCI_MANIFEST, digest: sha512(subject.data), size: subject.size },
    }));
    const pushed = await put(sha512(referrer.data), referrer);
    expect(pushed.status).toBe(201);
    expect(pushed.headers['oci-subject']).toBe(sha512(subject.data));
    for (const [asked, expected] of [[subject.digest, referrer.digest], [sha512(subject.data), sha512(referrer.data)]] as const) {
      const res = await request(reg.app).get(`/v2/${repo}/referrers/${asked}`);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text).manifests.map((d: { digest: string }) => d.digest)).toEqual([expected]);
    }
  });

  test('a blob that both names of one manifest list counts one manifest', async () => {
    const own = randomBlob(333);
    await pushBlob(reg.app, repo, own);
    const m = imageManifest(config, [own], { annotations: { n: 'blob' } });
    expect((await put(m.digest, m)).status).toBe(201);
    expect((await put(sha512(m.data), m)).status).toBe(201);
    const refused = await request(reg.app).delete(`/v2/${repo}/blobs/${own.digest}`);
    expectOciError(refused, 405, 'UNSUPPORTED');
    expect(refused.body.errors[0].message).toContain('referenced by 1 manifest(s)');
  });
});
