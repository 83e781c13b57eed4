// Values PostgreSQL cannot hold (NUL bytes, lone surrogates) or that no row can
// match are refused at the edge with the OCI code of what was wrong, never a 500
// from the database; and should one slip through, the database's own complaint
// about the data is still a 400.
import type { Express } from 'express';
import { connect } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createAuth } from '../../src/auth/service.ts';
import { loadConfig } from '../../src/config/index.ts';
import { authConfig } from '../../src/config/runtime.ts';
import { toRegistryError } from '../../src/http/errors.ts';
import { createLogger } from '../../src/logger.ts';
import { sql } from 'slonik';
import { expectOciError, pushBlob, pushManifest } from '../support/client.ts';
import { emptyConfig, imageManifest, OCI_INDEX, OCI_MANIFEST, randomBlob, sha256 } from '../support/fixtures.ts';
import { createTestRegistry, DEFAULT_OPTIONS, type TestRegistry } from '../support/registry.ts';
import { rowCounts } from '../support/rows.ts';
import { TEST_ADMIN } from '../support/auth-mode.ts';

const loadAuthConfig = (env: NodeJS.ProcessEnv) => authConfig(loadConfig(env));

const REPO = 'nul/repo';
let reg: TestRegistry;
let subject: string;
const layer = randomBlob(64);

beforeAll(async () => {
  reg = await createTestRegistry();
  await pushBlob(reg.app, REPO, emptyConfig);
  await pushBlob(reg.app, REPO, layer);
  const m = imageManifest(emptyConfig, [layer]);
  await pushManifest(reg.app, REPO, 'v1', m, OCI_MANIFEST);
  subject = m.digest;
});
afterAll(() => reg?.close());

describe('listing cursors and filters', () => {
  const cases: Array<[string, () => string, string]> = [
    ['catalog last=%00', () => '/v2/_catalog?last=%00', 'PAGINATION_CURSOR_INVALID'],
    ['catalog last with a NUL inside a name', () => '/v2/_catalog?last=nul%00/repo', 'PAGINATION_CURSOR_INVALID'],
    ['catalog last that is no repository name', () => '/v2/_catalog?last=Not%20A%20Name', 'PAGINATION_CURSOR_INVALID'],
    ['tags last=%00', () => `/v2/${REPO}/tags/list?last=%00`, 'PAGINATION_CURSOR_INVALID'],
    ['tags last that is no tag', () => `/v2/${REPO}/tags/list?last=a%00b&n=1`, 'PAGINATION_CURSOR_INVALID'],
    ['tags last on an unknown repository', () => '/v2/nul/unknown/tags/list?last=%00', 'PAGINATION_CURSOR_INVALID'],
    ['referrers last=%00', () => `/v2/${REPO}/referrers/${subject}?last=%00`, 'PAGINATION_CURSOR_INVALID'],
    ['referrers last that is no digest', () => `/v2/${REPO}/referrers/${subject}?last=v1`, 'PAGINATION_CURSOR_INVALID'],
    ['referrers artifactType=a%00b', () => `/v2/${REPO}/referrers/${subject}?artifactType=a%00b`, 'PARAMETER_INVALID'],
    ['referrers artifactType that is no media type', () => `/v2/${REPO}/referrers/${subject}?artifactType=sbom`, 'PARAMETER_INVALID'],
    ['referrers artifactType with bytes that are not UTF-8', () => `/v2/${REPO}/referrers/${subject}?artifactType=application/x%ED%A0%80`, 'PARAMETER_INVALID'],
  ];
  test.each(cases)('%s → 400 with its code', async (_what, path, code) => {
    expectOciError(await request(reg.app).get(path()), 400, code);
  });

  test('valid cursors and filters still page and filter as before', async () => {
    const tags = await request(reg.app).get(`/v2/${REPO}/tags/list?last=a`);
    expect(tags.status).toBe(200);
    expect(tags.body.tags).toEqual(['v1']);
    const catalog = await request(reg.app).get('/v2/_catalog?last=a');
    expect(catalog.status).toBe(200);
    expect(catalog.body.repositories).toContain(REPO);
    const refs = await request(reg.app).get(`/v2/${REPO}/referrers/${subject}?artifactType=application/vnd.example.sbom&last=${subject}`);
    expect(refs.status).toBe(200);
    expect(refs.headers['oci-filters-applied']).toBe('artifactType');
  });
});

describe('manifests holding strings PostgreSQL cannot store', () => {
  const cfg = () => ({ mediaType: 'application/vnd.oci.image.config.v1+json', digest: emptyConfig.digest, size: emptyConfig.size });
  const lay = (mediaType = 'application/vnd.oci.image.layer.v1.tar') => ({ mediaType, digest: layer.digest, size: layer.size });
  const image = (extra: Record<string, unknown>) => JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: cfg(), layers: [lay()], ...extra });
  const cases: Array<[string, () => string, string?]> = [
    ['a NUL in an annotation value', () => image({ annotations: { 'org.example': 'a\u0000b' } })],
    ['a NUL in an annotation key', () => image({ annotations: { 'org.\u0000example': 'x' } })],
    ['a NUL in artifactType', () => image({ artifactType: 'application/x\u0000y' })],
    ['an artifactType that is no media type', () => image({ artifactType: 'signature' })],
    ['a NUL in the config mediaType', () => image({ config: { ...cfg(), mediaType: 'application/vnd.oci.image.config.v1+json\u0000' } })],
    ['a NUL in a layer mediaType', () => image({ layers: [lay('application/\u0000')] })],
    ['a NUL in the subject mediaType', () => image({ subject: { mediaType: 'a\u0000', digest: subject, size: 1 } })],
    ['a NUL in an index entry mediaType', () => JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: '\u0000', digest: subject, size: 1 }] }), OCI_INDEX],
    ['a NUL in a field nobody stores', () => image({ 'org.example.note': ['ok', { deep: '\u0000' }] })],
    ['a lone surrogate in an annotation', () => image({ annotations: { 'org.example': 'x\ud800' } })],
    ['a lone surrogate in a key nobody stores', () => image({ 'x\udc00': 1 })],
  ];
  test.each(cases)('%s → 400 MANIFEST_INVALID, nothing stored', async (_what, body, type = OCI_MANIFEST) => {
    const before = await rowCounts(reg.pool);
    const res = await request(reg.app).put(`/v2/${REPO}/manifests/bad`).set('Content-Type', type).send(body());
    expectOciError(res, 400, 'MANIFEST_INVALID');
    expect(await rowCounts(reg.pool)).toEqual(before);
  });

  test('a manifest with well-formed unicode (astral characters included) is still accepted', async () => {
    const m = imageManifest(emptyConfig, [layer], { annotations: { 'org.example.title': 'caf\u00e9 \ud83d\ude80 \u2603' }, artifactType: 'application/vnd.example.sbom' });
    await pushManifest(reg.app, REPO, 'unicode', m, OCI_MANIFEST);
    const got = await request(reg.app).get(`/v2/${REPO}/manifests/unicode`).set('Accept', OCI_MANIFEST);
    expect(got.status).toBe(200);
    expect(sha256(Buffer.from(got.text))).toBe(m.digest);
  });
});

describe('credentials and token parameters', () => {
  let app: Express;
  beforeAll(async () => {
    const auth = await createAuth(reg.pool, loadAuthConfig({ BOLLARD_AUTH: 'token', BOLLARD_ADMIN_PASSWORD: TEST_ADMIN.password }), createLogger('silent'));
    app = createApp({ pool: reg.pool, store: reg.store, log: createLogger('silent'), options: DEFAULT_OPTIONS, auth });
  });
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  test('a Basic username holding a NUL is refused as bad credentials (token endpoint, GET)', async () => {
    const res = await request(app).get('/token?service=bollard&scope=repository:nul/repo:pull').set('Authorization', basic('ad\u0000min', 'x'));
    expectOciError(res, 401, 'UNAUTHORIZED');
  });

  test('a password-grant username holding a NUL is refused as bad credentials (token endpoint, POST)', async () => {
    const res = await request(app).post('/token').type('form').send('grant_type=password&username=ad%00min&password=x&service=bollard');
    expectOciError(res, 401, 'UNAUTHORIZED');
  });

  test('a Basic username holding a NUL is refused on the admin API', async () => {
    expectOciError(await request(app).get('/admin/events').set('Authorization', basic('\u0000', 'x')), 401, 'UNAUTHORIZED');
  });

  test('NUL bytes in scope, service, account and offline_token change nothing: an anonymous token, no 500', async () => {
    const res = await request(app).get('/token?service=a%00b&account=%00&offline_token=%00&scope=repository:a%00b:pull&scope=%00');
    expect(res.status, res.text).toBe(200);
    expect(typeof res.body.token).toBe('string');
  });

  test('the admin API refuses NUL bytes in its parameters with their codes', async () => {
    const admin = basic('admin', TEST_ADMIN.password);
    expectOciError(await request(app).get('/admin/events?since=%00').set('Authorization', admin), 400, 'PAGINATION_CURSOR_INVALID');
    expectOciError(await request(app).get('/admin/events?repository=a%00').set('Authorization', admin), 400, 'NAME_INVALID');
    expectOciError(await request(app).get('/admin/events?limit=%00').set('Authorization', admin), 400, 'PAGINATION_NUMBER_INVALID');
    expectOciError(await request(app).get('/admin/events?since=99999999999999999999-1').set('Authorization', admin), 400, 'PAGINATION_CURSOR_INVALID');
  });

  test('a token form in a charset or encoding nobody knows, or not compressed as it claims, is a 400 OCI error', async () => {
    const charset = await request(app).post('/token').set('Content-Type', 'application/x-www-form-urlencoded; charset=x-nul').send('grant_type=password');
    expectOciError(charset, 400, 'PARAMETER_INVALID');
    const encoding = await request(app).post('/token').set('Content-Type', 'application/x-www-form-urlencoded').set('Content-Encoding', 'x-nul').send('grant_type=password');
    expectOciError(encoding, 400, 'PARAMETER_INVALID');
    for (const compression of ['gzip', 'deflate', 'br']) {
      const notCompressed = await request(app).post('/token').set('Content-Type', 'application/x-www-form-urlencoded').set('Content-Encoding', compression).send('grant_type=password');
      expectOciError(notCompressed, 400, 'PARAMETER_INVALID');
    }
  });

  test('a mount source that is no repository name is NAME_INVALID, not a broken challenge header', async () => {
    const res = await request(app).post(`/v2/${REPO}/blobs/uploads/?mount=${layer.digest}&from=a%0Ab`);
    expectOciError(res, 400, 'NAME_INVALID');
    const bytes = await request(app).post(`/v2/${REPO}/blobs/uploads/?mount=${layer.digest}&from=%C4%80`);
    expectOciError(bytes, 400, 'NAME_INVALID');
  });

  test('an absolute-form request-target whose host no URL parser takes is no 500 in token mode', async () => {
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      const s = connect(port, '127.0.0.1', () => {
        s.write(`POST http://x:99999/v2/${REPO}/blobs/uploads/?mount=${layer.digest}&from=${REPO} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      });
      s.on('data', (d: Buffer) => (text += d.toString('latin1')));
      s.on('close', () => resolve(text));
    });
    await new Promise((resolve) => server.close(resolve));
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 401 Unauthorized');
    expect(answer).toContain('"code":"UNAUTHORIZED"');
  });

  test('the real user still logs in', async () => {
    const res = await request(app).get('/token?service=bollard').set('Authorization', basic('admin', TEST_ADMIN.password));
    expect(res.status, res.text).toBe(200);
  });
});

describe('the database backstop', () => {
  const log = createLogger('silent');
  /** The error the query fails with, as the client would be told it; the query is built inside, as a request would. */
  const failureOf = async (query: () => Parameters<typeof reg.pool.query>[0]) => {
    try {
      await reg.pool.query(query());
    } catch (err) {
      return toRegistryError(err, log);
    }
    throw new Error('the query succeeded');
  };

  test('a NUL in a text parameter (22021) is a 400 PARAMETER_INVALID, not a 500', async () => {
    const err = await failureOf(() => sql.unsafe`SELECT name FROM repositories WHERE name = ${'a\u0000b'}`);
    expect([err.status, err.code]).toEqual([400, 'PARAMETER_INVALID']);
  });

  test('a \\u0000 escape in jsonb (22P05), text a type cannot parse (22P02), a number out of range (22003), a lone surrogate in sql.jsonb: 400s too', async () => {
    const queries = [
      () => sql.unsafe`SELECT ${'{"a":"\\u0000"}'}::jsonb`,
      () => sql.unsafe`SELECT ${'not-a-uuid'}::uuid`,
      () => sql.unsafe`SELECT ${'99999999999999999999'}::int8`,
      () => sql.unsafe`SELECT ${sql.jsonb({ a: 'x\ud800' })}`,
    ];
    for (const query of queries) {
      const err = await failureOf(query);
      expect([err.status, err.code]).toEqual([400, 'PARAMETER_INVALID']);
    }
  });

  test('other database failures are not turned into 400s', async () => {
    const err = await failureOf(() => sql.unsafe`SELECT * FROM no_such_table_here`);
    expect(err.status).toBe(500);
  });
});
