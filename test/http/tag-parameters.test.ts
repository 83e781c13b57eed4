// PUT /v2/<name>/manifests/<digest>?tag=…: the tags set with the push, each answered in OCI-Tag.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectOciError, pushBlob } from '../support/client.ts';
import { imageManifest, OCI_MANIFEST, randomBlob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { countRows, refcountDrift } from '../support/rows.ts';

let reg: TestRegistry;
const repo = 'tagparam/img';
const config = randomBlob(100);
const layer = randomBlob(700);
beforeAll(async () => {
  reg = await createTestRegistry();
  for (const b of [config, layer]) await pushBlob(reg.app, repo, b);
});
afterAll(() => reg.close());

const putByDigest = (digest: string, query: string, body: Buffer) =>
  request(reg.app).put(`/v2/${repo}/manifests/${digest}${query}`).set('Content-Type', OCI_MANIFEST).send(body.toString('utf8'));

/** OCI-Tag values, whether sent as several headers or one comma-joined list. */
function ociTags(res: request.Response): string[] {
  const h = res.headers['oci-tag'] as string | string[] | undefined;
  if (h === undefined) return [];
  return (Array.isArray(h) ? h : [h]).flatMap((v) => v.split(',')).map((v) => v.trim());
}

describe('tag parameters', () => {
  test('each accepted tag is answered in OCI-Tag and then resolves to the manifest', async () => {
    const m = imageManifest(config, [layer], { annotations: { t: 'a' } });
    const res = await putByDigest(m.digest, '?tag=a&tag=b', m.data);
    expect(res.status).toBe(201);
    expect(res.headers['docker-content-digest']).toBe(m.digest);
    expect(ociTags(res).sort()).toEqual(['a', 'b']);
    for (const t of ['a', 'b']) {
      const got = await request(reg.app).get(`/v2/${repo}/manifests/${t}`);
      expect(got.status).toBe(200);
      expect(got.headers['docker-content-digest']).toBe(m.digest);
    }
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('at least 10 tags in one request; a repeated tag is one tag', async () => {
    const m = imageManifest(config, [layer], { annotations: { t: 'ten' } });
    const tags = Array.from({ length: 12 }, (_, i) => `ten-${i}`);
    const res = await putByDigest(m.digest, `?${[...tags, 'ten-0'].map((t) => `tag=${t}`).join('&')}`, m.data);
    expect(res.status).toBe(201);
    expect(ociTags(res).sort()).toEqual([...tags].sort());
    const list = (await request(reg.app).get(`/v2/${repo}/tags/list`)).body.tags as string[];
    for (const t of tags) expect(list).toContain(t);
  });

  test('a tag outside the grammar: 400 TAG_INVALID and nothing is created', async () => {
    const m = imageManifest(config, [layer], { annotations: { t: 'bad' } });
    const manifests = await countRows(reg.pool, 'manifests');
    const tags = await countRows(reg.pool, 'tags');
    for (const bad of ['?tag=ok&tag=-bad', '?tag=', `?tag=${'x'.repeat(129)}`, '?tag=a%2Fb']) {
      expectOciError(await putByDigest(m.digest, bad, m.data), 400, 'TAG_INVALID');
    }
    expect(await countRows(reg.pool, 'manifests')).toBe(manifests);
    expect(await countRows(reg.pool, 'tags')).toBe(tags);
    expectOciError(await request(reg.app).get(`/v2/${repo}/manifests/ok`), 404, 'MANIFEST_UNKNOWN');
  });

  test('past the limit of 100: 414 and nothing is created', async () => {
    const m = imageManifest(config, [layer], { annotations: { t: 'many' } });
    const query = `?${Array.from({ length: 101 }, (_, i) => `tag=m${i}`).join('&')}`;
    expectOciError(await putByDigest(m.digest, query, m.data), 414, 'TOO_MANY_TAGS');
    expectOciError(await request(reg.app).get(`/v2/${repo}/manifests/${m.digest}`), 404, 'MANIFEST_UNKNOWN');
  });

  test('without tag parameters no OCI-Tag header is sent', async () => {
    const m = imageManifest(config, [layer], { annotations: { t: 'none' } });
    const res = await putByDigest(m.digest, '', m.data);
    expect(res.status).toBe(201);
    expect(res.headers['oci-tag']).toBeUndefined();
  });
});
