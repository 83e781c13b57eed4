// The HTTP suite runs twice: open (project fs) and with token auth on (project
// token), where a token-aware client answers the challenges. This checks that the
// registry under test really is in the project's mode.
import request from 'supertest';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { testAuthMode } from '../support/auth-mode.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';

let reg: TestRegistry;
beforeAll(async () => {
  reg = await createTestRegistry();
});
afterAll(() => reg.close());

test('the registry under test runs in the auth mode of the project', async () => {
  const token = testAuthMode() === 'token';
  expect((await request(reg.app).get('/token')).status).toBe(token ? 200 : 404);
  // a request that brings its own (bad) credentials is passed on untouched by the client
  const res = await request(reg.app).get('/v2/').set('Authorization', 'Bearer not-a-token');
  expect(res.status).toBe(token ? 401 : 200);
  expect((await request(reg.app).get('/v2/')).status).toBe(200);
});
