import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { binaryParser, expectOciError, pushBlob, pushManifest } from '../support/client.ts';
import {
  blob,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  EMPTY_CONFIG,
  emptyConfig,
  imageIndex,
  imageManifest,
  OCI_INDEX,
  OCI_MANIFEST,
  randomBlob,
  sha256,
  sha512,
} from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { refcountDrift, rowCounts } from '../support/rows.ts';

let reg: TestRegistry;
const repo = 'man/img';
const config = randomBlob(200);
const layer = randomBlob(3000);
beforeAll(async () => {
  reg = await createTestRegistry();
  for (const b of [config, layer, emptyConfig]) await pushBlob(reg.app, repo, b);
});
afterAll(() => reg.close());

const put = (ref: string, body: string | Buffer, type: string, r = repo) =>
  request(reg.app).put(`/v2/${r}/manifests/${ref}`).set('Content-Type', type).send(Buffer.isBuffer(body) ? body.toString('utf8') : body);

describe('push and pull manifests of every kind', () => {
  test('OCI image manifest by tag: 201, then GET/HEAD by tag and digest return the exact bytes', async () => {
    // pretty-printed on purpose: the bytes, not a re-serialisation, must come back
    const m = blob(JSON.stringify(JSON.parse(imageManifest(config, [layer]).data.toString()), null, 3));
    const res = await put('v1', m.data, OCI_MANIFEST);
    expect(res.status).toBe(201);
    expect(res.headers['docker-content-digest']).toBe(m.digest);
    expect(res.headers.location).toBe(`/v2/${repo}/manifests/${m.digest}`);
    for (const ref of ['v1', m.digest]) {
      const got = await request(reg.app).get(`/v2/${repo}/manifests/${ref}`).buffer(true).parse(binaryParser);
      expect(got.status).toBe(200);
      expect(got.headers['content-type']).toBe(OCI_MANIFEST);
      expect(got.headers['docker-content-digest']).toBe(m.digest);
      expect(got.headers['content-length']).toBe(String(m.size));
      expect(sha256(got.body as Buffer)).toBe(m.digest);
      const head = await request(reg.app).head(`/v2/${repo}/manifests/${ref}`);
      expect(head.status).toBe(200);
      expect(head.headers['content-length']).toBe(String(m.size));
      expect(head.headers['docker-content-digest']).toBe(m.digest);
    }
  });

  test('PUT by digest', async () => {
    const m = imageManifest(config, [layer], { annotations: { by: 'digest' } });
    const res = await put(m.digest, m.data, OCI_MANIFEST);
    expect(res.status).toBe(201);
    expect((await request(reg.app).head(`/v2/${repo}/manifests/${m.digest}`)).status).toBe(200);
  });

  test('PUT by SHA-512 digest', async () => {
    const m = imageManifest(config, [layer], { annotations: { by: 'sha512' } });
    const d = sha512(m.data);
    const res = await put(d, m.data, OCI_MANIFEST);
    expect(res.status).toBe(201);
    expect(res.headers['docker-content-digest']).toBe(d);
    expect((await request(reg.app).get(`/v2/${repo}/manifests/${d}`)).headers['docker-content-digest']).toBe(d);
  });

  test('PUT by a digest that does not match the body → DIGEST_INVALID', async () => {
    const m = imageManifest(config, [layer], { annotations: { x: 'y' } });
    expectOciError(await put(randomBlob(3).digest, m.data, OCI_MANIFEST), 400, 'DIGEST_INVALID');
  });

  test('Docker schema 2 manifest and manifest list', async () => {
    const m = imageManifest(config, [layer], {}, DOCKER_MANIFEST);
    await pushManifest(reg.app, repo, 'docker', m, DOCKER_MANIFEST);
    const list = imageIndex([{ manifest: m, mediaType: DOCKER_MANIFEST, platform: { architecture: 'amd64', os: 'linux' } }], DOCKER_LIST);
    await pushManifest(reg.app, repo, 'docker-list', list, DOCKER_LIST);
    const got = await request(reg.app).get(`/v2/${repo}/manifests/docker-list`);
    expect(got.headers['content-type']).toBe(DOCKER_LIST);
    expect(got.headers['docker-content-digest']).toBe(list.digest);
  });

  test('OCI image index whose children exist', async () => {
    const a = imageManifest(config, [layer], { annotations: { arch: 'a' } });
    const b = imageManifest(config, [layer], { annotations: { arch: 'b' } });
    await pushManifest(reg.app, repo, a.digest, a, OCI_MANIFEST);
    await pushManifest(reg.app, repo, b.digest, b, OCI_MANIFEST);
    const idx = imageIndex([{ manifest: a }, { manifest: b }]);
    await pushManifest(reg.app, repo, 'multi', idx, OCI_INDEX);
    expect((await request(reg.app).get(`/v2/${repo}/manifests/multi`)).headers['content-type']).toBe(OCI_INDEX);
  });

  test('an artifact with artifactType and the empty config', async () => {
    const art = blob(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: 'application/vnd.example.sbom',
        config: { mediaType: EMPTY_CONFIG, digest: emptyConfig.digest, size: 2, data: 'e30=' },
        layers: [{ mediaType: 'application/spdx+json', digest: layer.digest, size: layer.size }],
      }),
    );
    await pushManifest(reg.app, repo, 'sbom', art, OCI_MANIFEST);
  });

  test('a manifest without top-level mediaType takes the Content-Type (as podman pushes)', async () => {
    const doc = JSON.parse(imageManifest(config, [layer], { annotations: { podman: '1' } }).data.toString());
    delete doc.mediaType;
    const m = blob(JSON.stringify(doc));
    await pushManifest(reg.app, repo, 'podman', m, OCI_MANIFEST);
    expect((await request(reg.app).head(`/v2/${repo}/manifests/podman`)).headers['content-type']).toBe(OCI_MANIFEST);
    const docker = blob(JSON.stringify({ ...doc, annotations: { podman: '2' } }));
    await pushManifest(reg.app, repo, 'podman-docker', docker, DOCKER_MANIFEST);
    expect((await request(reg.app).head(`/v2/${repo}/manifests/podman-docker`)).headers['content-type']).toBe(DOCKER_MANIFEST);
  });

  test('a subject that does not exist yet is accepted, and OCI-Subject is returned', async () => {
    const missing = randomBlob(10).digest;
    const ref = imageManifest(config, [layer], { subject: { mediaType: OCI_MANIFEST, digest: missing, size: 10 } });
    const res = await put(ref.digest, ref.data, OCI_MANIFEST);
    expect(res.status).toBe(201);
    expect(res.headers['oci-subject']).toBe(missing);
  });
});

describe('content negotiation', () => {
  test('an Accept that admits the type, or a wildcard, or none → 200', async () => {
    for (const accept of [OCI_MANIFEST, `${DOCKER_MANIFEST}, ${OCI_MANIFEST};q=0.5`, '*/*']) {
      expect((await request(reg.app).get(`/v2/${repo}/manifests/v1`).set('Accept', accept)).status).toBe(200);
    }
  });

  test('a tag whose stored type the Accept excludes → 404 MANIFEST_UNKNOWN', async () => {
    const res = await request(reg.app).get(`/v2/${repo}/manifests/multi`).set('Accept', OCI_MANIFEST);
    expectOciError(res, 404, 'MANIFEST_UNKNOWN');
  });

  test('by digest the manifest is served with its own type whatever the Accept says', async () => {
    // Docker 20.10 fetches an OCI index's children by digest with an Accept listing Docker types only.
    const dockerOnly = `${DOCKER_MANIFEST}, ${DOCKER_LIST}, application/vnd.docker.distribution.manifest.v1+prettyjws`;
    const index = await request(reg.app).get(`/v2/${repo}/manifests/multi`).buffer(true).parse(binaryParser);
    const child = (JSON.parse(index.body.toString()) as { manifests: Array<{ digest: string }> }).manifests[0]!.digest;
    for (const [digest, type, body] of [
      [index.headers['docker-content-digest'] as string, OCI_INDEX, index.body as Buffer],
      [child, OCI_MANIFEST, undefined],
    ] as const) {
      for (const accept of [dockerOnly, OCI_MANIFEST === type ? OCI_INDEX : OCI_MANIFEST]) {
        const got = await request(reg.app).get(`/v2/${repo}/manifests/${digest}`).set('Accept', accept).buffer(true).parse(binaryParser);
        expect(got.status).toBe(200);
        expect(got.headers['content-type']).toBe(type);
        expect(got.headers['docker-content-digest']).toBe(digest);
        expect(sha256(got.body as Buffer)).toBe(digest);
        if (body) expect(got.body).toEqual(body);
        const head = await request(reg.app).head(`/v2/${repo}/manifests/${digest}`).set('Accept', accept);
        expect([head.status, head.headers['content-type']]).toEqual([200, type]);
      }
    }
  });
});

describe('invalid manifests leave no rows', () => {
  const cases: Array<[string, () => string, string, number, string]> = [
    ['invalid JSON', () => '{"schemaVersion":2,', OCI_MANIFEST, 400, 'MANIFEST_INVALID'],
    ['a JSON array', () => '[]', OCI_MANIFEST, 400, 'MANIFEST_INVALID'],
    ['schemaVersion 1', () => JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }), OCI_MANIFEST, 400, 'MANIFEST_INVALID'],
    ['no config', () => JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [] }), OCI_MANIFEST, 400, 'MANIFEST_INVALID'],
    ['a bad descriptor digest', () => JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:zz', size: 1 }, layers: [] }), OCI_MANIFEST, 400, 'MANIFEST_INVALID'],
    ['a negative size', () => JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: -1 }, layers: [] }), OCI_MANIFEST, 400, 'MANIFEST_INVALID'],
    ['a size that disagrees with the blob', () => JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size + 1 }, layers: [] }), OCI_MANIFEST, 400, 'MANIFEST_INVALID'],
    ['mediaType and Content-Type that disagree', () => imageManifest(config, [layer]).data.toString(), DOCKER_MANIFEST, 400, 'MANIFEST_INVALID'],
    ['an unknown media type', () => JSON.stringify({ schemaVersion: 2, mediaType: 'application/x-nope', config: {} }), 'application/x-nope', 400, 'MANIFEST_INVALID'],
    ['annotations that are not strings', () => imageManifest(config, [layer], { annotations: { n: 1 } }).data.toString(), OCI_MANIFEST, 400, 'MANIFEST_INVALID'],
    ['a layer the repository lacks', () => imageManifest(config, [randomBlob(9)]).data.toString(), OCI_MANIFEST, 400, 'MANIFEST_BLOB_UNKNOWN'],
    ['a config the repository lacks', () => imageManifest(randomBlob(9), [layer]).data.toString(), OCI_MANIFEST, 400, 'MANIFEST_BLOB_UNKNOWN'],
    ['an index with a missing child', () => imageIndex([{ manifest: randomBlob(40) }]).data.toString(), OCI_INDEX, 400, 'MANIFEST_BLOB_UNKNOWN'],
  ];
  test.each(cases)('%s', async (_what, body, type, status, code) => {
    const before = await rowCounts(reg.pool);
    expectOciError(await put('bad', body(), type), status, code);
    expect(await rowCounts(reg.pool)).toEqual(before);
  });

  test('a blob linked only in another repository does not satisfy a manifest', async () => {
    const other = randomBlob(100);
    await pushBlob(reg.app, 'man/other', other);
    expectOciError(await put('x', imageManifest(config, [other]).data, OCI_MANIFEST), 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  test('a manifest over 4 MiB → 413', async () => {
    const big = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, annotations: { pad: 'x'.repeat(4 * 1024 * 1024) } });
    expectOciError(await put('big', big, OCI_MANIFEST), 413, 'TOO_LARGE');
  });

  test.each(['-leading-dash', 'a'.repeat(129), 'has space', 'ta:g!'])('an invalid tag %s → 400', async (tag) => {
    const res = await put(encodeURIComponent(tag), imageManifest(config, [layer]).data, OCI_MANIFEST);
    expect(res.status).toBe(400);
    expect(['TAG_INVALID', 'DIGEST_INVALID', 'MANIFEST_INVALID']).toContain(res.body.errors[0].code);
  });
});

describe('GET errors', () => {
  test('unknown tag, unknown digest, unknown repository → 404 MANIFEST_UNKNOWN', async () => {
    expectOciError(await request(reg.app).get(`/v2/${repo}/manifests/nope`), 404, 'MANIFEST_UNKNOWN');
    expectOciError(await request(reg.app).get(`/v2/${repo}/manifests/${randomBlob(1).digest}`), 404, 'MANIFEST_UNKNOWN');
    expectOciError(await request(reg.app).get('/v2/no/repo/manifests/latest'), 404, 'MANIFEST_UNKNOWN');
  });
});

describe('tags move and delete', () => {
  test('re-tagging moves the tag; refcounts stay exact', async () => {
    const a = imageManifest(config, [layer], { annotations: { t: 'a' } });
    const b = imageManifest(config, [layer], { annotations: { t: 'b' } });
    await pushManifest(reg.app, repo, 'moving', a, OCI_MANIFEST);
    await pushManifest(reg.app, repo, 'moving', b, OCI_MANIFEST);
    expect((await request(reg.app).head(`/v2/${repo}/manifests/moving`)).headers['docker-content-digest']).toBe(b.digest);
    expect((await request(reg.app).head(`/v2/${repo}/manifests/${a.digest}`)).status).toBe(200);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('DELETE by tag removes only the tag', async () => {
    const m = imageManifest(config, [layer], { annotations: { t: 'deltag' } });
    await pushManifest(reg.app, repo, 'deltag', m, OCI_MANIFEST);
    expect((await request(reg.app).delete(`/v2/${repo}/manifests/deltag`)).status).toBe(202);
    expectOciError(await request(reg.app).get(`/v2/${repo}/manifests/deltag`), 404, 'MANIFEST_UNKNOWN');
    expect((await request(reg.app).head(`/v2/${repo}/manifests/${m.digest}`)).status).toBe(200);
    expectOciError(await request(reg.app).delete(`/v2/${repo}/manifests/deltag`), 404, 'MANIFEST_UNKNOWN');
  });

  test('DELETE by digest removes the manifest and every tag naming it', async () => {
    const m = imageManifest(config, [layer], { annotations: { t: 'deldigest' } });
    await pushManifest(reg.app, repo, 'd1', m, OCI_MANIFEST);
    await pushManifest(reg.app, repo, 'd2', m, OCI_MANIFEST);
    expect((await request(reg.app).delete(`/v2/${repo}/manifests/${m.digest}`)).status).toBe(202);
    for (const ref of ['d1', 'd2', m.digest]) {
      expectOciError(await request(reg.app).get(`/v2/${repo}/manifests/${ref}`), 404, 'MANIFEST_UNKNOWN');
    }
    const tags = (await request(reg.app).get(`/v2/${repo}/tags/list`)).body.tags as string[];
    expect(tags).not.toContain('d1');
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('a manifest that an index lists cannot be deleted before the index: 405 UNSUPPORTED naming it', async () => {
    const child = imageManifest(config, [layer], { annotations: { t: 'child' } });
    await pushManifest(reg.app, repo, child.digest, child, OCI_MANIFEST);
    const idx = imageIndex([{ manifest: child }]);
    await pushManifest(reg.app, repo, 'parent', idx, OCI_INDEX);
    // 405 UNSUPPORTED, a status the spec allows for this DELETE, saying what to do in the message
    const refused = await request(reg.app).delete(`/v2/${repo}/manifests/${child.digest}`);
    expectOciError(refused, 405, 'UNSUPPORTED');
    expect(refused.body.errors[0].message).toBe(`manifest ${child.digest} is listed by index ${idx.digest}; delete the index first`);
    expect(refused.headers['allow']).toBe('GET, HEAD, PUT');
    expect((await request(reg.app).delete(`/v2/${repo}/manifests/${idx.digest}`)).status).toBe(202);
    expect((await request(reg.app).delete(`/v2/${repo}/manifests/${child.digest}`)).status).toBe(202);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });
});
