// Failed logins are rate-limited per client address and per login name, on every
// way credentials reach us (GET /token Basic, POST password and refresh grants).
import request from 'supertest';
import { sql } from 'slonik';
import { z } from 'zod';
import { afterEach, expect, test } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { expectOciError } from '../support/client.ts';
import { addUser, basic, createAuthRegistry, type AuthRegistry } from './support.ts';

let r: AuthRegistry | null = null;
afterEach(async () => {
  await r?.close();
  r = null;
});

const tokenGet = (reg: AuthRegistry, user: string, password: string) =>
  request(reg.app).get('/token?scope=repository:team/app:pull').set('Authorization', basic(user, password));
const passwordGrant = (reg: AuthRegistry, user: string, password: string) =>
  request(reg.app).post('/token').type('form').send({ grant_type: 'password', username: user, password, client_id: 't' });

function expectTooMany(res: request.Response, windowSeconds: number): void {
  expectOciError(res, 429, 'TOOMANYREQUESTS');
  const retry = Number(res.headers['retry-after']);
  expect(Number.isInteger(retry)).toBe(true);
  expect(retry).toBeGreaterThanOrEqual(1);
  expect(retry).toBeLessThanOrEqual(windowSeconds);
}

const failureRows = (reg: AuthRegistry) =>
  reg.pool.any(sql.type(z.object({ key: z.string(), failures: z.number() }))`SELECT key, failures FROM login_failures ORDER BY key`);

test('per user name: after the limit even the right password gets 429 with Retry-After, on GET and POST alike', async () => {
  const lines: string[] = [];
  r = await createAuthRegistry(
    { BOLLARD_AUTH_LOGIN_FAILURES_PER_USER: '3', BOLLARD_AUTH_LOGIN_FAILURES_PER_CLIENT: '100', BOLLARD_AUTH_LOGIN_WINDOW: '600' },
    createLogger('debug', (l) => lines.push(l)),
  );
  await addUser(r.pool, 'victim', 'victim-pass-1', [['team/**', ['pull']]]);
  await addUser(r.pool, 'bystander', 'bystander-pass-1', [['team/**', ['pull']]]);
  expect((await tokenGet(r, 'victim', 'victim-pass-1')).status).toBe(200);
  expect(await failureRows(r)).toEqual([]); // successes write nothing
  for (const guess of ['guess-one-1', 'guess-two-2']) expect((await tokenGet(r, 'victim', guess)).status).toBe(401);
  expect((await passwordGrant(r, 'victim', 'guess-three-3')).status).toBe(401);
  expectTooMany(await tokenGet(r, 'victim', 'victim-pass-1'), 600);
  expectTooMany(await passwordGrant(r, 'victim', 'victim-pass-1'), 600);
  // another name from the same client is not affected
  expect((await tokenGet(r, 'bystander', 'bystander-pass-1')).status).toBe(200);
  expect(await failureRows(r)).toEqual([
    { key: expect.stringMatching(/^addr:.*127\.0\.0\.1$/), failures: 3 },
    { key: 'user:victim', failures: 3 },
  ]);
  // the log names the user, never a password tried or the right one
  const log = lines.join('');
  expect(log).toContain('login failed');
  for (const secret of ['guess-one-1', 'guess-two-2', 'guess-three-3', 'victim-pass-1']) expect(log).not.toContain(secret);
});

test('per client: many names from one address are stopped; the window ends and logins work again', async () => {
  r = await createAuthRegistry({ BOLLARD_AUTH_LOGIN_FAILURES_PER_USER: '100', BOLLARD_AUTH_LOGIN_FAILURES_PER_CLIENT: '4', BOLLARD_AUTH_LOGIN_WINDOW: '2' });
  await addUser(r.pool, 'alice', 'alice-pass-1', [['team/**', ['pull']]]);
  for (const name of ['u1', 'u2', 'u3', 'u4']) expect((await tokenGet(r, name, 'whatever-1')).status).toBe(401);
  expectTooMany(await tokenGet(r, 'alice', 'alice-pass-1'), 2);
  // an anonymous token needs no credentials, so it is not limited
  expect((await request(r.app).get('/token?scope=repository:team/app:pull')).status).toBe(200);
  await new Promise((done) => setTimeout(done, 2_100));
  expect((await tokenGet(r, 'alice', 'alice-pass-1')).status).toBe(200);
});

test('bad refresh tokens count against the client too', async () => {
  r = await createAuthRegistry({ BOLLARD_AUTH_LOGIN_FAILURES_PER_CLIENT: '2', BOLLARD_AUTH_LOGIN_WINDOW: '600' });
  const refresh = (token: string) => request(r!.app).post('/token').type('form').send({ grant_type: 'refresh_token', refresh_token: token });
  expect((await refresh('forged-1')).status).toBe(401);
  expect((await refresh('forged-2')).status).toBe(401);
  expectTooMany(await refresh('forged-3'), 600);
  expectTooMany(await tokenGet(r, 'admin', 'admin-secret-1'), 600);
});

test('the limits are configuration, validated', async () => {
  const { loadConfig } = await import('../../src/config/index.ts');
  const { authConfig } = await import('../../src/config/runtime.ts');
  const loadAuthConfig = (env: NodeJS.ProcessEnv) => authConfig(loadConfig(env));
  expect(loadAuthConfig({}).loginLimits).toEqual({ perClient: 30, perUser: 10, windowSeconds: 300 });
  expect(() => loadAuthConfig({ BOLLARD_AUTH_LOGIN_FAILURES_PER_USER: '0' })).toThrow(/BOLLARD_AUTH_LOGIN_FAILURES_PER_USER/);
  expect(() => loadAuthConfig({ BOLLARD_AUTH_LOGIN_WINDOW: 'x' })).toThrow(/BOLLARD_AUTH_LOGIN_WINDOW/);
});

test('behind a trusted proxy (BOLLARD_TRUST_PROXY) clients are told apart by X-Forwarded-For; untrusted, the header is ignored', async () => {
  const limits = { BOLLARD_AUTH_LOGIN_FAILURES_PER_USER: '100', BOLLARD_AUTH_LOGIN_FAILURES_PER_CLIENT: '2', BOLLARD_AUTH_LOGIN_WINDOW: '600' };
  const from = (reg: AuthRegistry, client: string, user: string) => tokenGet(reg, user, 'wrong-pass-1').set('X-Forwarded-For', client);

  r = await createAuthRegistry({ ...limits, BOLLARD_TRUST_PROXY: 'loopback' });
  for (const user of ['a1', 'a2']) expect((await from(r, '203.0.113.5', user)).status).toBe(401);
  expectTooMany(await from(r, '203.0.113.5', 'a3'), 600);
  expect((await from(r, '203.0.113.6', 'b1')).status).toBe(401); // another client behind the same proxy
  await r.close();

  r = await createAuthRegistry(limits); // no trusted proxy: anyone could forge the header
  for (const [client, user] of [['203.0.113.5', 'a1'], ['203.0.113.6', 'b1']]) expect((await from(r, client as string, user as string)).status).toBe(401);
  expectTooMany(await from(r, '203.0.113.7', 'c1'), 600);
});
