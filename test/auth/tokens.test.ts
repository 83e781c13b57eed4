// Tokens the registry must refuse: each forged or stale token gets 401 with a
// challenge, and none of them reaches the API.
import { createHmac, randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createAuth } from '../../src/auth/service.ts';
import { listSigningKeys } from '../../src/db/signing-keys.ts';
import { verifyAccessToken } from '../../src/auth/tokens.ts';
import { loadConfig } from '../../src/config/index.ts';
import { authConfig } from '../../src/config/runtime.ts';
import { createLogger } from '../../src/logger.ts';
import { expectOciError } from '../support/client.ts';
import { challenge, createAuthRegistry, fetchToken, ADMIN_PASSWORD, type AuthRegistry } from './support.ts';

const loadAuthConfig = (env: NodeJS.ProcessEnv) => authConfig(loadConfig(env));

let r: AuthRegistry;
beforeAll(async () => {
  r = await createAuthRegistry();
});
afterAll(() => r?.close());

const ACCESS = [{ type: 'repository', name: 'team/app', actions: ['pull'] }];

function claims(over: Partial<JWTPayload> = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return { iss: 'bollard', sub: 'admin', aud: 'bollard', iat: now, nbf: now, exp: now + 300, jti: randomUUID(), access: ACCESS, ...over };
}

function sign(payload: JWTPayload, key: CryptoKey = r.auth.tokens.keys.privateKey, kid = r.auth.tokens.keys.kid): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).sign(key);
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

async function expectRefused(token: string): Promise<void> {
  const res = await request(r.app).get('/v2/team/app/tags/list').set('Authorization', `Bearer ${token}`);
  expectOciError(res, 401, 'UNAUTHORIZED');
  const c = challenge(res.headers['www-authenticate']);
  expect(c['error']).toBe('invalid_token');
  expect(c['scope']).toBe('repository:team/app:pull');
}

test('a well-formed token signed with our key is accepted (the control case)', async () => {
  const res = await request(r.app).get('/v2/team/app/tags/list').set('Authorization', `Bearer ${await sign(claims())}`);
  expectOciError(res, 404, 'NAME_UNKNOWN');
});

describe('refused tokens', () => {
  const now = () => Math.floor(Date.now() / 1000);
  test('expired (beyond the 30 s leeway)', async () => expectRefused(await sign(claims({ iat: now() - 600, nbf: now() - 600, exp: now() - 60 }))));
  test('not yet valid (beyond the leeway)', async () => expectRefused(await sign(claims({ nbf: now() + 120 }))));
  test('wrong audience', async () => expectRefused(await sign(claims({ aud: 'other-registry' }))));
  test('wrong issuer', async () => expectRefused(await sign(claims({ iss: 'someone-else' }))));
  test('no expiry', async () => {
    const { exp: _exp, ...rest } = claims();
    await expectRefused(await sign(rest));
  });
  test('tampered payload (signature no longer matches)', async () => {
    const [h, , s] = (await sign(claims())).split('.');
    const forged = b64(claims({ access: [{ type: 'repository', name: 'team/app', actions: ['pull', 'push', 'delete'] }] }));
    await expectRefused(`${h}.${forged}.${s}`);
  });
  test('tampered signature', async () => {
    const t = await sign(claims());
    const sig = Buffer.from(t.split('.')[2] as string, 'base64url');
    sig[10] = (sig[10] as number) ^ 0xff;
    await expectRefused(`${t.split('.').slice(0, 2).join('.')}.${sig.toString('base64url')}`);
  });
  test('alg: none', async () => {
    await expectRefused(`${b64({ alg: 'none', typ: 'JWT', kid: r.auth.tokens.keys.kid })}.${b64(claims())}.`);
  });
  test('HS256 with our public key as the HMAC secret (key confusion)', async () => {
    const [row] = await listSigningKeys(r.pool);
    const { d: _d, ...pub } = row!.private_jwk as Record<string, string>;
    for (const secret of [JSON.stringify(pub), pub['x'] as string]) {
      const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: r.auth.tokens.keys.kid })}.${b64(claims())}`;
      await expectRefused(`${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`);
    }
  });
  test('signed by a key that is not ours, with our kid or its own', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    await expectRefused(await sign(claims(), privateKey));
    await expectRefused(await sign(claims(), privateKey, 'stranger'));
  });
  test('garbage', async () => expectRefused('not-a-jwt'));
});

test('the generated signing key is kept in PostgreSQL: another replica verifies our tokens', async () => {
  const token = await fetchToken(r.app, ['admin', ADMIN_PASSWORD], ['repository:team/app:pull']);
  const replica = await createAuth(r.pool, loadAuthConfig({ BOLLARD_AUTH: 'token' }), createLogger('silent'));
  expect(replica.tokens.keys.kid).toBe(r.auth.tokens.keys.kid);
  expect(await verifyAccessToken(replica.tokens, token)).toMatchObject({ sub: 'admin', access: ACCESS });
});
