// Token auth end to end in-process: challenges, the /token endpoint, and the API
// used with the tokens it issues.
import { decodeJwt, decodeProtectedHeader } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { addGrant } from '../../src/db/grants.ts';
import { errorCodes, expectOciError } from '../support/client.ts';
import { blob, EMPTY_CONFIG, imageManifest, OCI_MANIFEST, randomBlob } from '../support/fixtures.ts';
import { ADMIN_PASSWORD, addUser, basic, challenge, createAuthRegistry, fetchToken, type AuthRegistry } from './support.ts';

let r: AuthRegistry;
beforeAll(async () => {
  r = await createAuthRegistry();
  await addUser(r.pool, 'reader', 'reader-pass-1', [['team/**', ['pull']]]);
});
afterAll(() => r?.close());

const admin: [string, string] = ['admin', ADMIN_PASSWORD];

async function push(repo: string, token: string, tag = 'v1') {
  const config = blob('{}');
  const layer = randomBlob(256);
  for (const b of [config, layer]) {
    const res = await request(r.app)
      .post(`/v2/${repo}/blobs/uploads/?digest=${b.digest}`)
      .set('Authorization', `Bearer ${token}`)
      .set('Content-Type', 'application/octet-stream')
      .send(b.data);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  const m = imageManifest(config, [layer], {}, OCI_MANIFEST);
  void EMPTY_CONFIG;
  const res = await request(r.app)
    .put(`/v2/${repo}/manifests/${tag}`)
    .set('Authorization', `Bearer ${token}`)
    .set('Content-Type', OCI_MANIFEST)
    .send(m.data.toString('utf8'));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { layer, manifest: m };
}

describe('challenges without a token', () => {
  test('GET /v2/ answers 401 with a Bearer challenge naming realm and service', async () => {
    const res = await request(r.app).get('/v2/');
    expectOciError(res, 401, 'UNAUTHORIZED');
    const c = challenge(res.headers['www-authenticate']);
    expect(c['realm']).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/token$/);
    expect(c['service']).toBe('bollard');
    expect(c['scope']).toBeUndefined();
    expect(res.headers['docker-distribution-api-version']).toBe('registry/2.0');
  });

  test.each([
    ['GET', '/v2/team/app/manifests/latest', 'repository:team/app:pull'],
    ['HEAD', '/v2/team/app/blobs/sha256:' + '0'.repeat(64), 'repository:team/app:pull'],
    ['GET', '/v2/team/app/tags/list', 'repository:team/app:pull'],
    ['PUT', '/v2/team/app/manifests/v1', 'repository:team/app:pull,push'],
    ['POST', '/v2/team/app/blobs/uploads/', 'repository:team/app:pull,push'],
    ['PATCH', '/v2/team/app/blobs/uploads/abc', 'repository:team/app:pull,push'],
    ['DELETE', '/v2/team/app/manifests/sha256:' + '0'.repeat(64), 'repository:team/app:delete'],
    ['GET', '/v2/_catalog', 'registry:catalog:*'],
    ['POST', '/v2/team/app/blobs/uploads/?mount=sha256:' + '0'.repeat(64) + '&from=team/base', 'repository:team/app:pull,push repository:team/base:pull'],
  ])('%s %s needs %s', async (method, path, scope) => {
    const res = await request(r.app)[method.toLowerCase() as 'get'](path);
    expect(res.status).toBe(401);
    expect(challenge(res.headers['www-authenticate'])['scope']).toBe(scope);
    if (method !== 'HEAD') {
      const detail = (res.body as { errors: Array<{ detail: Array<{ Type: string; Name: string; Action: string }> }> }).errors[0]?.detail;
      expect(detail?.map((d) => `${d.Type}:${d.Name}:${d.Action}`)).toEqual(
        scope.split(' ')[0]!.split(':')[2]!.split(',').map((a) => `${scope.split(':')[0]}:${scope.split(' ')[0]!.split(':')[1]}:${a}`),
      );
    }
  });
});

test('a malformed repository name is 400 NAME_INVALID, token or not (no rule can grant it)', async () => {
  expectOciError(await request(r.app).get('/v2/Foo/bar/tags/list'), 400, 'NAME_INVALID');
  const long = `${'a'.repeat(200)}/${'b'.repeat(60)}`;
  const t = await fetchToken(r.app, admin, [`repository:${long}:pull,push`]);
  expectOciError(await request(r.app).post(`/v2/${long}/blobs/uploads/`).set('Authorization', `Bearer ${t}`), 400, 'NAME_INVALID');
});

describe('the token endpoint', () => {
  test('GET with Basic credentials issues a JWT with the Docker claims and the granted access', async () => {
    const res = await request(r.app)
      .get('/token?service=bollard&scope=repository:team/app:pull,push&scope=repository:other:pull')
      .set('Authorization', basic('reader', 'reader-pass-1'));
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.body as Record<string, unknown>;
    expect(body['access_token']).toBe(body['token']);
    expect(body['expires_in']).toBe(300);
    expect(Date.parse(body['issued_at'] as string)).toBeGreaterThan(Date.now() - 60_000);
    expect(body['refresh_token']).toBeUndefined();
    const header = decodeProtectedHeader(body['token'] as string);
    expect(header.alg).toBe('ES256');
    expect(header.kid).toBe(r.auth.tokens.keys.kid);
    const claims = decodeJwt(body['token'] as string);
    expect(claims).toMatchObject({ iss: 'bollard', sub: 'reader', aud: 'bollard' });
    expect(typeof claims.jti).toBe('string');
    expect(claims.exp! - claims.iat!).toBe(300);
    expect(claims.nbf).toBe(claims.iat);
    // less than asked is not an error: only pull on team/app
    expect(claims['access']).toEqual([{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
  });

  test('wrong password and unknown user: 401', async () => {
    for (const auth of [basic('reader', 'nope'), basic('ghost', 'reader-pass-1'), 'Basic !!!']) {
      const res = await request(r.app).get('/token?scope=repository:team/app:pull').set('Authorization', auth);
      expectOciError(res, 401, 'UNAUTHORIZED');
    }
  });

  test('anonymous gets only what the anonymous rules allow', async () => {
    const before = decodeJwt(await fetchToken(r.app, null, ['repository:library/alpine:pull']));
    expect(before.sub).toBe('');
    expect(before['access']).toEqual([]);
    await addGrant(r.pool, 'anonymous', 'library/*', ['pull']);
    const after = decodeJwt(await fetchToken(r.app, null, ['repository:library/alpine:pull,push', 'repository:library/a/b:pull']));
    expect(after['access']).toEqual([{ type: 'repository', name: 'library/alpine', actions: ['pull'] }]);
  });

  test('offline_token=true returns a refresh token; POST grant_type=refresh_token trades it for access', async () => {
    const res = await request(r.app).get('/token?offline_token=true&scope=repository:team/app:pull').set('Authorization', basic(...admin));
    const refresh = (res.body as { refresh_token: string }).refresh_token;
    expect(typeof refresh).toBe('string');
    const traded = await request(r.app)
      .post('/token')
      .type('form')
      .send({ grant_type: 'refresh_token', refresh_token: refresh, service: 'bollard', client_id: 'test', scope: 'repository:team/x:pull,push repository:team/y:pull' });
    expect(traded.status, JSON.stringify(traded.body)).toBe(200);
    expect(decodeJwt((traded.body as { access_token: string }).access_token)['access']).toEqual([
      { type: 'repository', name: 'team/x', actions: ['pull', 'push'] },
      { type: 'repository', name: 'team/y', actions: ['pull'] },
    ]);
    // a refresh token is not an access token, nor the reverse
    const asBearer = await request(r.app).get('/v2/').set('Authorization', `Bearer ${refresh}`);
    expect(asBearer.status).toBe(401);
    const access = (traded.body as { access_token: string }).access_token;
    const asRefresh = await request(r.app).post('/token').type('form').send({ grant_type: 'refresh_token', refresh_token: access });
    expect(asRefresh.status).toBe(401);
  });

  test('POST grant_type=password; access_type=offline adds a refresh token; bad grant types are refused', async () => {
    const res = await request(r.app)
      .post('/token')
      .type('form')
      .send({ grant_type: 'password', username: 'admin', password: ADMIN_PASSWORD, client_id: 'test', access_type: 'offline', scope: 'repository:a/b:delete' });
    expect(res.status).toBe(200);
    expect(typeof (res.body as { refresh_token?: string }).refresh_token).toBe('string');
    expect(decodeJwt((res.body as { token: string }).token)['access']).toEqual([{ type: 'repository', name: 'a/b', actions: ['delete'] }]);
    const bad = await request(r.app).post('/token').type('form').send({ grant_type: 'password', username: 'admin', password: 'x' });
    expect(bad.status).toBe(401);
    const unsupported = await request(r.app).post('/token').type('form').send({ grant_type: 'client_credentials' });
    expect(unsupported.status).toBe(400);
  });
});

describe('the API with tokens', () => {
  test('push and pull with tokens from GET /token', async () => {
    const pushToken = await fetchToken(r.app, admin, ['repository:team/app:pull,push']);
    const { layer, manifest } = await push('team/app', pushToken);
    const pullToken = await fetchToken(r.app, ['reader', 'reader-pass-1'], ['repository:team/app:pull']);
    const m = await request(r.app).get('/v2/team/app/manifests/v1').set('Authorization', `Bearer ${pullToken}`).set('Accept', OCI_MANIFEST);
    expect(m.status).toBe(200);
    expect(m.headers['docker-content-digest']).toBe(manifest.digest);
    const b = await request(r.app).get(`/v2/team/app/blobs/${layer.digest}`).set('Authorization', `Bearer ${pullToken}`);
    expect(b.status).toBe(200);
    const base = await request(r.app).get('/v2/').set('Authorization', `Bearer ${pullToken}`);
    expect(base.status).toBe(200);
  });

  test('a pull token used to push: 403 DENIED when the rules refuse push, 401 insufficient_scope when a new token could carry it', async () => {
    const readerToken = await fetchToken(r.app, ['reader', 'reader-pass-1'], ['repository:team/app:pull,push']);
    const denied = await request(r.app).post('/v2/team/app/blobs/uploads/').set('Authorization', `Bearer ${readerToken}`);
    expectOciError(denied, 403, 'DENIED');
    const adminPull = await fetchToken(r.app, admin, ['repository:team/app:pull']);
    const more = await request(r.app).post('/v2/team/app/blobs/uploads/').set('Authorization', `Bearer ${adminPull}`);
    expectOciError(more, 401, 'UNAUTHORIZED');
    const c = challenge(more.headers['www-authenticate']);
    expect(c['error']).toBe('insufficient_scope');
    expect(c['scope']).toBe('repository:team/app:pull,push');
    const del = await request(r.app).delete(`/v2/team/app/manifests/v1`).set('Authorization', `Bearer ${readerToken}`);
    expectOciError(del, 403, 'DENIED');
  });

  test('a token for repository A used on repository B', async () => {
    const readerA = await fetchToken(r.app, ['reader', 'reader-pass-1'], ['repository:team/app:pull']);
    const onB = await request(r.app).get('/v2/secret/app/tags/list').set('Authorization', `Bearer ${readerA}`);
    expectOciError(onB, 403, 'DENIED');
    const adminA = await fetchToken(r.app, admin, ['repository:team/app:pull']);
    const adminOnB = await request(r.app).get('/v2/secret/app/tags/list').set('Authorization', `Bearer ${adminA}`);
    expect(adminOnB.status).toBe(401);
    expect(challenge(adminOnB.headers['www-authenticate'])['scope']).toBe('repository:secret/app:pull');
    const anon = await fetchToken(r.app, null, ['repository:team/app:pull']);
    const anonRes = await request(r.app).get('/v2/team/app/tags/list').set('Authorization', `Bearer ${anon}`);
    expect(anonRes.status).toBe(401);
    expect(challenge(anonRes.headers['www-authenticate'])['error']).toBe('insufficient_scope');
    // an anonymous token is still a valid token
    expect((await request(r.app).get('/v2/').set('Authorization', `Bearer ${anon}`)).status).toBe(200);
  });

  test('a blob of another repository, by digest, is 404 even with a valid token', async () => {
    const t = await fetchToken(r.app, admin, ['repository:secret/blobs:pull,push']);
    const { layer } = await push('secret/blobs', t);
    const readerTeam = await fetchToken(r.app, ['reader', 'reader-pass-1'], ['repository:team/app:pull']);
    const res = await request(r.app).get(`/v2/team/app/blobs/${layer.digest}`).set('Authorization', `Bearer ${readerTeam}`);
    expectOciError(res, 404, 'BLOB_UNKNOWN');
  });

  test('the catalog lists only repositories the caller may pull', async () => {
    const t = await fetchToken(r.app, admin, ['repository:secret/app:pull,push']);
    await push('secret/app', t);
    const adminCatalog = await fetchToken(r.app, admin, ['registry:catalog:*']);
    const all = await request(r.app).get('/v2/_catalog').set('Authorization', `Bearer ${adminCatalog}`);
    expect((all.body as { repositories: string[] }).repositories).toEqual(expect.arrayContaining(['secret/app', 'team/app']));
    const readerCatalog = await fetchToken(r.app, ['reader', 'reader-pass-1'], ['registry:catalog:*']);
    const some = await request(r.app).get('/v2/_catalog').set('Authorization', `Bearer ${readerCatalog}`);
    expect(some.status).toBe(200);
    expect((some.body as { repositories: string[] }).repositories).toEqual(['team/app']);
    for (const path of ['/v2/_catalog/', '/V2/_CATALOG', '/v2/_Catalog/']) {
      const other = await request(r.app).get(path).set('Authorization', `Bearer ${readerCatalog}`);
      expect(other.status, path).toBe(200);
      expect((other.body as { repositories: string[] }).repositories, path).toEqual(['team/app']);
      expect((await request(r.app).get(path)).status, path).toBe(401);
    }
    const noScope = await request(r.app).get('/v2/_catalog').set('Authorization', `Bearer ${await fetchToken(r.app, admin, [])}`);
    expect(noScope.status).toBe(401);
    expect(challenge(noScope.headers['www-authenticate'])['scope']).toBe('registry:catalog:*');
  });

  test('a mount from a repository the token cannot read becomes a plain upload (202)', async () => {
    const t = await fetchToken(r.app, admin, ['repository:secret/vault:pull,push']);
    const { layer } = await push('secret/vault', t);
    await addUser(r.pool, 'writer', 'writer-pass-1', [['dev/**', ['pull', 'push']]]);
    const w = await fetchToken(r.app, ['writer', 'writer-pass-1'], ['repository:dev/app:pull,push', 'repository:secret/vault:pull']);
    const res = await request(r.app).post(`/v2/dev/app/blobs/uploads/?mount=${layer.digest}&from=secret/vault`).set('Authorization', `Bearer ${w}`);
    expect(res.status).toBe(202);
    const auto = await request(r.app).post(`/v2/dev/app/blobs/uploads/?mount=${layer.digest}`).set('Authorization', `Bearer ${w}`);
    expect(auto.status).toBe(202);
    const a = await fetchToken(r.app, admin, ['repository:dev/app:pull,push', 'repository:secret/vault:pull']);
    const mounted = await request(r.app).post(`/v2/dev/app/blobs/uploads/?mount=${layer.digest}&from=secret/vault`).set('Authorization', `Bearer ${a}`);
    expect(mounted.status).toBe(201);
    expect(errorCodes(mounted)).toEqual([]);
  });
});
