import request from 'supertest';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestRegistry, type TestRegistry } from './support/registry.ts';
import { startServer, type ServerProcess } from './support/server.ts';

let reg: TestRegistry;
let server: ServerProcess;
beforeAll(async () => {
  reg = await createTestRegistry();
  server = await startServer();
});
afterAll(async () => {
  await reg?.close();
  await server?.destroy();
});

test('in-process app answers /v2/', async () => {
  const res = await request(reg.app).get('/v2/');
  expect(res.status).toBe(200);
  expect(res.headers['docker-distribution-api-version']).toBe('registry/2.0');
});

test('server process answers /v2/ and stops cleanly on SIGTERM', async () => {
  const res = await fetch(`${server.url}/v2/`);
  expect(res.status).toBe(200);
  expect(await server.stop()).toBe(0);
});
