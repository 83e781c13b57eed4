import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectOciError } from '../support/client.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';

let reg: TestRegistry;
beforeAll(async () => {
  reg = await createTestRegistry();
});
afterAll(() => reg.close());

describe('GET /v2/', () => {
  test('answers 200 with the API version header', async () => {
    for (const path of ['/v2/', '/v2']) {
      const res = await request(reg.app).get(path);
      expect(res.status).toBe(200);
      expect(res.headers['docker-distribution-api-version']).toBe('registry/2.0');
    }
  });

  test('every /v2 response carries the API version header, errors included', async () => {
    const res = await request(reg.app).get('/v2/nope/manifests/latest');
    expect(res.status).toBe(404);
    expect(res.headers['docker-distribution-api-version']).toBe('registry/2.0');
  });
});

describe('unknown endpoints and methods', () => {
  test('an unknown path is a 404 with an OCI body', async () => {
    expectOciError(await request(reg.app).get('/v2/foo/bar/nothing-here'), 404, 'NAME_UNKNOWN');
    expectOciError(await request(reg.app).get('/elsewhere'), 404, 'NAME_UNKNOWN');
  });

  test('an unsupported method is 405 UNSUPPORTED with Allow', async () => {
    const res = await request(reg.app).post('/v2/foo/manifests/latest');
    expectOciError(res, 405, 'UNSUPPORTED');
    expect(res.headers.allow).toContain('PUT');
  });
});

describe('repository names', () => {
  test.each([
    ['upper case', 'Foo/bar'],
    ['trailing separator', 'foo-/bar'],
    ['double slash', 'foo//bar'],
    ['leading dot', '.foo'],
  ])('%s is NAME_INVALID', async (_what, name) => {
    expectOciError(await request(reg.app).get(`/v2/${name}/tags/list`), 400, 'NAME_INVALID');
  });

  test('a name longer than 255 characters is NAME_INVALID', async () => {
    const name = `${'a'.repeat(200)}/${'b'.repeat(60)}`;
    expectOciError(await request(reg.app).post(`/v2/${name}/blobs/uploads/`), 400, 'NAME_INVALID');
  });

  test('names with dots, dashes, underscores and many components are accepted', async () => {
    const res = await request(reg.app).post('/v2/a.b/c_d/e__f/g--h/i/blobs/uploads/');
    expect(res.status).toBe(202);
  });
});
