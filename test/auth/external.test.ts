// Tokens of an external issuer: verified against its JWKS (served over HTTP by
// this test, or from a file) or a PEM public key; issuer, audience and the
// algorithm allow-list are enforced.
import { createSecretKey } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { authConfig } from '../../src/config/runtime.ts';
import { blob, imageManifest, OCI_MANIFEST } from '../support/fixtures.ts';
import { ADMIN_PASSWORD, challenge, createAuthRegistry, fetchToken, type AuthRegistry } from './support.ts';

const loadAuthConfig = (env: NodeJS.ProcessEnv) => authConfig(loadConfig(env));

const ISSUER = 'https://idp.example.test';
const ACCESS = [{ type: 'repository', name: 'ext/app', actions: ['pull'] }];

let dir: string;
let rsa: { privateKey: CryptoKey; publicKey: CryptoKey };
let ec: { privateKey: CryptoKey; publicKey: CryptoKey };
let jwksServer: Server;
let jwksUrl: string;
let jwksRequests = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bollard-external-'));
  rsa = await generateKeyPair('RS256', { extractable: true });
  ec = await generateKeyPair('ES256', { extractable: true });
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' }] });
  jwksServer = createServer((_req, res) => {
    jwksRequests++;
    res.setHeader('content-type', 'application/json');
    res.end(jwks);
  });
  await new Promise<void>((done) => jwksServer.listen(0, '127.0.0.1', done));
  const addr = jwksServer.address() as { port: number };
  jwksUrl = `http://127.0.0.1:${addr.port}/.well-known/jwks.json`;
  await writeFile(join(dir, 'jwks.json'), jwks);
  await writeFile(join(dir, 'ec.pem'), await exportSPKI(ec.publicKey));
});
afterAll(async () => {
  jwksServer?.close();
  await rm(dir, { recursive: true, force: true });
});

interface Claims {
  iss?: string;
  aud?: string;
  exp?: number;
  access?: unknown;
}

async function sign(key: CryptoKey | Uint8Array | ReturnType<typeof createSecretKey>, alg: string, c: Claims = {}, kid?: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ access: c.access ?? ACCESS })
    .setProtectedHeader({ alg, ...(kid ? { kid } : {}) })
    .setIssuer(c.iss ?? ISSUER)
    .setSubject('svc-deployer')
    .setAudience(c.aud ?? 'bollard')
    .setIssuedAt(now)
    .setExpirationTime(c.exp ?? now + 300)
    .sign(key as CryptoKey);
}

function unsigned(claims: Record<string, unknown>): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.`;
}

/** Pushes a one-layer image with our admin's token. */
async function pushImage(reg: AuthRegistry, repo: string): Promise<void> {
  const token = await fetchToken(reg.app, ['admin', ADMIN_PASSWORD], [`repository:${repo}:pull,push`]);
  const config = blob('{}');
  const layer = blob(`layer of ${repo}`);
  for (const b of [config, layer]) {
    const res = await request(reg.app).post(`/v2/${repo}/blobs/uploads/?digest=${b.digest}`).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/octet-stream').send(b.data);
    expect(res.status).toBe(201);
  }
  const m = imageManifest(config, [layer], {}, OCI_MANIFEST);
  const res = await request(reg.app).put(`/v2/${repo}/manifests/v1`).set('Authorization', `Bearer ${token}`).set('Content-Type', OCI_MANIFEST).send(m.data.toString('utf8'));
  expect(res.status).toBe(201);
}

async function status(reg: AuthRegistry, token: string, path = '/v2/ext/app/tags/list') {
  return request(reg.app).get(path).set('Authorization', `Bearer ${token}`);
}

describe('JWKS by URL (served on 127.0.0.1)', () => {
  let r: AuthRegistry;
  beforeAll(async () => {
    r = await createAuthRegistry({ BOLLARD_AUTH_EXTERNAL_JWKS_URL: jwksUrl, BOLLARD_AUTH_EXTERNAL_ISSUER: ISSUER, BOLLARD_AUTH_EXTERNAL_ALGORITHMS: 'RS256' });
  });
  afterAll(() => r?.close());

  test('a valid token is accepted with the access it carries', async () => {
    const token = await sign(rsa.privateKey, 'RS256', {}, 'rsa-1');
    const res = await status(r, token);
    expect(res.status).toBe(404); // past auth: the repository does not exist
    expect(jwksRequests).toBeGreaterThan(0);
    expect((await status(r, token, '/v2/')).status).toBe(200);
    // more than it carries: a fresh token may carry it (the realm decides), so 401 insufficient_scope
    const push = await request(r.app).post('/v2/ext/app/blobs/uploads/').set('Authorization', `Bearer ${token}`);
    expect(push.status).toBe(401);
    expect(challenge(push.headers['www-authenticate'])['error']).toBe('insufficient_scope');
  });

  test('the catalog of an external subject lists what its token may pull', async () => {
    for (const repo of ['ext/app', 'ext/other', 'secret/app']) await pushImage(r, repo);
    const token = await sign(rsa.privateKey, 'RS256', { access: [...ACCESS, { type: 'registry', name: 'catalog', actions: ['*'] }] }, 'rsa-1');
    const res = await status(r, token, '/v2/_catalog');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ repositories: ['ext/app'] });
  });

  test.each([
    ['wrong issuer', () => sign(rsa.privateKey, 'RS256', { iss: 'https://evil.example.test' }, 'rsa-1')],
    ['wrong audience', () => sign(rsa.privateKey, 'RS256', { aud: 'someone-else' }, 'rsa-1')],
    ['expired', () => sign(rsa.privateKey, 'RS256', { exp: Math.floor(Date.now() / 1000) - 3600 }, 'rsa-1')],
    ['signed by another key', async () => sign((await generateKeyPair('RS256')).privateKey, 'RS256', {}, 'rsa-1')],
    ['alg none', async () => unsigned({ iss: ISSUER, aud: 'bollard', sub: 'x', exp: Math.floor(Date.now() / 1000) + 300, access: ACCESS })],
    ['HS256 keyed with the public JWK', async () => sign(createSecretKey(Buffer.from(JSON.stringify(await exportJWK(rsa.publicKey)))), 'HS256', {}, 'rsa-1')],
    ['an algorithm off the allow-list (ES256)', () => sign(ec.privateKey, 'ES256', {}, 'rsa-1')],
  ])('%s: 401 invalid_token', async (_name, make) => {
    const res = await status(r, await make());
    expect(res.status).toBe(401);
    expect(challenge(res.headers['www-authenticate'])['error']).toBe('invalid_token');
  });
});

describe('a PEM public key', () => {
  let r: AuthRegistry;
  beforeAll(async () => {
    r = await createAuthRegistry({ BOLLARD_AUTH_EXTERNAL_PEM_FILE: join(dir, 'ec.pem'), BOLLARD_AUTH_EXTERNAL_ISSUER: ISSUER, BOLLARD_AUTH_EXTERNAL_AUDIENCE: 'registry.example.test' });
  });
  afterAll(() => r?.close());

  test('accepts ES256 tokens for the configured audience; refuses HS256 keyed with the PEM, and none', async () => {
    expect((await status(r, await sign(ec.privateKey, 'ES256', { aud: 'registry.example.test' }))).status).toBe(404);
    expect((await status(r, await sign(ec.privateKey, 'ES256'))).status).toBe(401); // audience 'bollard'
    const pem = await exportSPKI(ec.publicKey);
    expect((await status(r, await sign(createSecretKey(Buffer.from(pem)), 'HS256', { aud: 'registry.example.test' }))).status).toBe(401);
    const none = unsigned({ iss: ISSUER, aud: 'registry.example.test', sub: 'x', exp: Math.floor(Date.now() / 1000) + 300, access: ACCESS });
    expect((await status(r, none)).status).toBe(401);
    // our own tokens still work beside the external ones
    const own = await request(r.app).get('/token?scope=repository:ext/app:pull').set('Authorization', `Basic ${Buffer.from('admin:admin-secret-1').toString('base64')}`);
    expect((await status(r, (own.body as { token: string }).token)).status).toBe(404);
  });
});

test('a JWKS file', async () => {
  const r = await createAuthRegistry({ BOLLARD_AUTH_EXTERNAL_JWKS_FILE: join(dir, 'jwks.json'), BOLLARD_AUTH_EXTERNAL_ISSUER: ISSUER, BOLLARD_AUTH_EXTERNAL_ALGORITHMS: 'RS256' });
  try {
    expect((await status(r, await sign(rsa.privateKey, 'RS256', {}, 'rsa-1'))).status).toBe(404);
    expect((await status(r, await sign(rsa.privateKey, 'RS256', { iss: 'https://other.test' }, 'rsa-1'))).status).toBe(401);
  } finally {
    await r.close();
  }
});

test('configuration errors are clear', async () => {
  const base = { BOLLARD_AUTH: 'token', BOLLARD_AUTH_EXTERNAL_JWKS_URL: 'https://idp.example.test/jwks', BOLLARD_AUTH_EXTERNAL_ISSUER: ISSUER };
  expect(loadAuthConfig(base).external).toEqual({ keys: { jwksUrl: base.BOLLARD_AUTH_EXTERNAL_JWKS_URL }, issuer: ISSUER, audience: 'bollard', algorithms: ['RS256', 'ES256'] });
  expect(loadAuthConfig({ BOLLARD_AUTH: 'token' }).external).toBeNull();
  expect(() => loadAuthConfig({ ...base, BOLLARD_AUTH_EXTERNAL_ALGORITHMS: 'RS256,none' })).toThrow(/"none" is never accepted/);
  expect(() => loadAuthConfig({ ...base, BOLLARD_AUTH_EXTERNAL_ALGORITHMS: 'HS256' })).toThrow(/HS256 .*not accepted/);
  expect(() => loadAuthConfig({ ...base, BOLLARD_AUTH_EXTERNAL_ALGORITHMS: 'XY99' })).toThrow(/unknown algorithm "XY99"/);
  expect(() => loadAuthConfig({ ...base, BOLLARD_AUTH_EXTERNAL_ISSUER: '' })).toThrow(/auth.external.issuer \(BOLLARD_AUTH_EXTERNAL_ISSUER\): required/);
  expect(() => loadAuthConfig({ ...base, BOLLARD_AUTH_EXTERNAL_ISSUER: 'bollard' })).toThrow(/BOLLARD_AUTH_EXTERNAL_ISSUER: must differ from auth.issuer \(BOLLARD_AUTH_ISSUER\)/);
  expect(() => loadAuthConfig({ ...base, BOLLARD_AUTH_EXTERNAL_PEM_FILE: '/x.pem' })).toThrow(/exclusive/);
  expect(() => loadAuthConfig({ BOLLARD_AUTH_EXTERNAL_ISSUER: ISSUER })).toThrow(/set one of/);
  expect(() => loadAuthConfig({ ...base, BOLLARD_AUTH_EXTERNAL_JWKS_URL: 'file:///etc/jwks' })).toThrow(/BOLLARD_AUTH_EXTERNAL_JWKS_URL/);
  await expect(createAuthRegistry({ BOLLARD_AUTH_EXTERNAL_PEM_FILE: join(dir, 'jwks.json'), BOLLARD_AUTH_EXTERNAL_ISSUER: ISSUER })).rejects.toThrow(/not a PEM public key/);
  await expect(createAuthRegistry({ BOLLARD_AUTH_EXTERNAL_PEM_FILE: join(dir, 'missing.pem'), BOLLARD_AUTH_EXTERNAL_ISSUER: ISSUER })).rejects.toThrow(/cannot read/);
});
