// Automatic mount (?mount= without from) in token mode links only a blob the
// caller could already pull in some repository that links it.
import { sql } from 'slonik';
import request from 'supertest';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { randomBlob, type Blob } from '../support/fixtures.ts';
import { refcountDrift } from '../support/rows.ts';
import { ADMIN_PASSWORD, addUser, createAuthRegistry, fetchToken, type AuthRegistry } from './support.ts';

let r: AuthRegistry;
beforeAll(async () => {
  r = await createAuthRegistry();
  await addUser(r.pool, 'dev', 'dev-pass-1', [['dev/**', ['pull', 'push']], ['team/**', ['pull']]]);
});
afterAll(() => r?.close());

async function pushBlob(repo: string, b: Blob): Promise<void> {
  const token = await fetchToken(r.app, ['admin', ADMIN_PASSWORD], [`repository:${repo}:pull,push`]);
  const res = await request(r.app).post(`/v2/${repo}/blobs/uploads/?digest=${b.digest}`).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/octet-stream').send(b.data);
  expect(res.status).toBe(201);
}

async function autoMount(user: [string, string], repo: string, b: Blob) {
  const token = await fetchToken(r.app, user, [`repository:${repo}:pull,push`]);
  const res = await request(r.app).post(`/v2/${repo}/blobs/uploads/?mount=${b.digest}`).set('Authorization', `Bearer ${token}`);
  const head = await request(r.app).head(`/v2/${repo}/blobs/${b.digest}`).set('Authorization', `Bearer ${token}`);
  return { status: res.status, location: res.headers['location'] as string, linked: head.status === 200 };
}

test('a blob only in a repository the caller cannot pull is not mounted: a plain session (202), nothing linked', async () => {
  const secret = randomBlob(300);
  await pushBlob('secret/vault', secret);
  const res = await autoMount(['dev', 'dev-pass-1'], 'dev/app', secret);
  expect(res.status).toBe(202);
  expect(res.location).toMatch(/^\/v2\/dev\/app\/blobs\/uploads\/[0-9a-f-]+$/);
  expect(res.linked).toBe(false);
});

test('a blob the caller can pull somewhere is mounted (201) and linked', async () => {
  const shared = randomBlob(300);
  await pushBlob('secret/vault', shared);
  await pushBlob('team/base', shared);
  const res = await autoMount(['dev', 'dev-pass-1'], 'dev/app', shared);
  expect(res.status).toBe(201);
  expect(res.location).toBe(`/v2/dev/app/blobs/${shared.digest}`);
  expect(res.linked).toBe(true);
  expect(await refcountDrift(r.pool)).toEqual([]);
});

test('anonymous pull rules count as pullable; the admin mounts anything stored', async () => {
  const pub = randomBlob(200);
  await pushBlob('library/base', pub);
  expect((await autoMount(['dev', 'dev-pass-1'], 'dev/pub', pub)).status).toBe(202);
  await r.pool.query(sql.unsafe`INSERT INTO grants (subject, repository_glob, actions) VALUES ('anonymous', 'library/*', '{pull}')`);
  expect((await autoMount(['dev', 'dev-pass-1'], 'dev/pub', pub)).status).toBe(201);
  const secret = randomBlob(200);
  await pushBlob('secret/other', secret);
  expect((await autoMount(['admin', ADMIN_PASSWORD], 'ops/app', secret)).status).toBe(201);
});
