import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectOciError, pushBlob, pushManifest } from '../support/client.ts';
import { blob, EMPTY_CONFIG, emptyConfig, imageManifest, OCI_INDEX, OCI_MANIFEST, randomBlob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';

let reg: TestRegistry;
const repo = 'list/app';
const config = randomBlob(100);
const layer = randomBlob(1000);
const image = imageManifest(config, [layer]);
const TAGS = ['b', 'a', 'Z', '1.0', '1.10', '1.2', 'latest', '_x'];

beforeAll(async () => {
  reg = await createTestRegistry();
  for (const b of [config, layer, emptyConfig]) await pushBlob(reg.app, repo, b);
  for (const t of TAGS) await pushManifest(reg.app, repo, t, image, OCI_MANIFEST);
});
afterAll(() => reg.close());

const sorted = [...TAGS].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));

function nextLink(res: { headers: Record<string, string> }): string | null {
  const m = /<([^>]+)>;\s*rel="next"/.exec(res.headers.link ?? '');
  return m ? (m[1] as string) : null;
}

describe('tags list', () => {
  test('all tags in lexical (byte) order', async () => {
    const res = await request(reg.app).get(`/v2/${repo}/tags/list`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ name: repo, tags: sorted });
    expect(res.headers.link).toBeUndefined();
  });

  test('n limits the page, Link leads to the rest', async () => {
    const seen: string[] = [];
    let url: string | null = `/v2/${repo}/tags/list?n=3`;
    let pages = 0;
    while (url) {
      const res = await request(reg.app).get(url);
      expect(res.status).toBe(200);
      expect(res.body.tags.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.tags);
      url = nextLink(res);
      pages += 1;
    }
    expect(seen).toEqual(sorted);
    expect(pages).toBe(3);
  });

  test('last starts after the given tag', async () => {
    const res = await request(reg.app).get(`/v2/${repo}/tags/list?n=2&last=1.2`);
    expect(res.body.tags).toEqual(sorted.slice(sorted.indexOf('1.2') + 1, sorted.indexOf('1.2') + 3));
    const rest = await request(reg.app).get(`/v2/${repo}/tags/list?last=a`);
    expect(rest.body.tags).toEqual(sorted.slice(sorted.indexOf('a') + 1));
  });

  test('n=0 → an empty list', async () => {
    const res = await request(reg.app).get(`/v2/${repo}/tags/list?n=0`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ name: repo, tags: [] });
  });

  test('a bad n → 400', async () => {
    expectOciError(await request(reg.app).get(`/v2/${repo}/tags/list?n=-1`), 400, 'PAGINATION_NUMBER_INVALID');
    expectOciError(await request(reg.app).get(`/v2/${repo}/tags/list?n=abc`), 400, 'PAGINATION_NUMBER_INVALID');
  });

  test('unknown repository → 404 NAME_UNKNOWN', async () => {
    expectOciError(await request(reg.app).get('/v2/list/none/tags/list'), 404, 'NAME_UNKNOWN');
  });

  test('a repository with blobs but no tags → empty list', async () => {
    await pushBlob(reg.app, 'list/blobsonly', randomBlob(10));
    expect((await request(reg.app).get('/v2/list/blobsonly/tags/list')).body.tags).toEqual([]);
  });
});

describe('catalog', () => {
  test('lists repositories holding manifests, in order, with paging', async () => {
    for (const r of ['list/zeta', 'list/alpha']) {
      for (const b of [config, layer]) await pushBlob(reg.app, r, b);
      await pushManifest(reg.app, r, 'v1', image, OCI_MANIFEST);
    }
    const all = await request(reg.app).get('/v2/_catalog');
    expect(all.status).toBe(200);
    expect(all.body.repositories).toEqual(['list/alpha', 'list/app', 'list/zeta']);
    const first = await request(reg.app).get('/v2/_catalog?n=2');
    expect(first.body.repositories).toEqual(['list/alpha', 'list/app']);
    const next = nextLink(first);
    expect(next).toBe('/v2/_catalog?n=2&last=list%2Fapp');
    expect((await request(reg.app).get(next as string)).body.repositories).toEqual(['list/zeta']);
    expect((await request(reg.app).get('/v2/_catalog?n=0')).body.repositories).toEqual([]);
  });

  test('a repository leaves the catalog with its last manifest and comes back with the next', async () => {
    const r = 'list/gone';
    const names = async () => (await request(reg.app).get('/v2/_catalog')).body.repositories as string[];
    for (const b of [config, layer]) await pushBlob(reg.app, r, b);
    expect(await names()).not.toContain(r);
    await pushManifest(reg.app, r, 'v1', image, OCI_MANIFEST);
    expect(await names()).toContain(r);
    expect((await request(reg.app).delete(`/v2/${r}/manifests/${image.digest}`)).status).toBe(202);
    expect(await names()).not.toContain(r);
    await pushManifest(reg.app, r, 'v1', image, OCI_MANIFEST);
    expect(await names()).toContain(r);
  });
});

describe('referrers', () => {
  const subject = { mediaType: OCI_MANIFEST, digest: image.digest, size: image.size };
  const artifact = (artifactType: string, note: string) =>
    blob(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType,
        config: { mediaType: EMPTY_CONFIG, digest: emptyConfig.digest, size: 2 },
        layers: [{ mediaType: 'application/octet-stream', digest: layer.digest, size: layer.size }],
        subject,
        annotations: { note },
      }),
    );
  const sig = artifact('application/vnd.example.signature', 'sig');
  const sbom = artifact('application/vnd.example.sbom', 'sbom');
  const plain = imageManifest(config, [layer], { subject });

  beforeAll(async () => {
    for (const m of [sig, sbom, plain]) {
      const res = await pushManifest(reg.app, repo, m.digest, m, OCI_MANIFEST);
      expect(res.headers['oci-subject']).toBe(image.digest);
    }
  });

  test('lists every referrer with artifactType, annotations, size and digest', async () => {
    const res = await request(reg.app).get(`/v2/${repo}/referrers/${image.digest}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(OCI_INDEX);
    expect(res.body.schemaVersion).toBe(2);
    expect(res.body.mediaType).toBe(OCI_INDEX);
    const byDigest = new Map((res.body.manifests as Array<{ digest: string }>).map((d) => [d.digest, d]));
    expect(byDigest.size).toBe(3);
    expect(byDigest.get(sig.digest)).toEqual({
      mediaType: OCI_MANIFEST,
      digest: sig.digest,
      size: sig.size,
      artifactType: 'application/vnd.example.signature',
      annotations: { note: 'sig' },
    });
    // without artifactType, a manifest is listed under its config's media type
    expect(byDigest.get(plain.digest)).toMatchObject({ artifactType: 'application/vnd.oci.image.config.v1+json' });
    expect(res.headers['oci-filters-applied']).toBeUndefined();
  });

  test('artifactType filter with OCI-Filters-Applied', async () => {
    const res = await request(reg.app).get(`/v2/${repo}/referrers/${image.digest}?artifactType=application/vnd.example.sbom`);
    expect(res.headers['oci-filters-applied']).toBe('artifactType');
    expect(res.body.manifests.map((d: { digest: string }) => d.digest)).toEqual([sbom.digest]);
  });

  test('paging with n and Link', async () => {
    const seen: string[] = [];
    let url: string | null = `/v2/${repo}/referrers/${image.digest}?n=2`;
    while (url) {
      const res = await request(reg.app).get(url);
      seen.push(...res.body.manifests.map((d: { digest: string }) => d.digest));
      url = nextLink(res);
    }
    expect(seen.sort()).toEqual([sig.digest, sbom.digest, plain.digest].sort());
  });

  test('unknown digest or repository → 200 with an empty index', async () => {
    for (const path of [`/v2/${repo}/referrers/${randomBlob(4).digest}`, `/v2/list/nothing/referrers/${image.digest}`]) {
      const res = await request(reg.app).get(path);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
    }
  });

  test('an invalid digest → 400 DIGEST_INVALID', async () => {
    expectOciError(await request(reg.app).get(`/v2/${repo}/referrers/latest`), 400, 'DIGEST_INVALID');
  });

  test('a deleted referrer disappears from the list', async () => {
    await request(reg.app).delete(`/v2/${repo}/manifests/${sig.digest}`).expect(202);
    const res = await request(reg.app).get(`/v2/${repo}/referrers/${image.digest}`);
    expect(res.body.manifests.map((d: { digest: string }) => d.digest)).not.toContain(sig.digest);
  });
});
