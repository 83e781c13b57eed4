// The web UI's JSON API with token auth on, without a browser: who sees what,
// the session cookie, CSRF, robots, refusals, and that bad input is a clear 4xx.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { addGrant } from '../../src/db/grants.ts';
import { addImmutableRule } from '../../src/db/retention.ts';
import { ADMIN_PASSWORD, addUser, createAuthRegistry, fetchToken, type AuthRegistry } from '../auth/support.ts';
import { blob, imageManifest, randomBlob, type Blob } from '../support/fixtures.ts';

const ALICE = 'alice-ui-password-1';
let r: AuthRegistry;
const images = new Map<string, Blob>();

async function push(repo: string, tag: string): Promise<void> {
  const token = await fetchToken(r.app, ['admin', ADMIN_PASSWORD], [`repository:${repo}:pull,push`]);
  const config = blob(JSON.stringify({ os: 'linux', architecture: 'amd64', config: { Env: ['A=1'] } }));
  const layer = randomBlob(2048);
  for (const b of [config, layer]) {
    const res = await request(r.app).post(`/v2/${repo}/blobs/uploads/?digest=${b.digest}`).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/octet-stream').send(b.data);
    expect(res.status).toBe(201);
  }
  const image = imageManifest(config, [layer]);
  images.set(`${repo}:${tag}`, image);
  const res = await request(r.app).put(`/v2/${repo}/manifests/${tag}`).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/vnd.oci.image.manifest.v1+json').send(image.data.toString());
  expect(res.status).toBe(201);
}

/** Signs in through the UI endpoint; returns the cookies a browser would then send. */
async function signIn(username: string, password: string): Promise<string> {
  const csrf = 'c'.repeat(24);
  const res = await request(r.app).post('/ui/api/session').set('Cookie', `bollard_csrf=${csrf}`).set('X-Bollard-CSRF', csrf).send({ username, password });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const session = (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('bollard_session='));
  return `${session?.split(';')[0]}; bollard_csrf=${csrf}`;
}

beforeAll(async () => {
  r = await createAuthRegistry();
  await addUser(r.pool, 'alice', ALICE, [['team/**', ['pull']]]);
  await addGrant(r.pool, 'robot:ci', '**', ['pull']);
  await push('team/app', 'v1');
  await push('team/app', 'v2');
  await push('secret/db', 'v1');
  await addImmutableRule(r.pool, 'team/**', 'v1');
});
afterAll(() => r?.close());

describe('an anonymous visitor', () => {
  test('is told the auth mode and sees no repository, not even by name', async () => {
    const info = await request(r.app).get('/ui/api/session');
    expect(info.body).toMatchObject({ auth: 'token', user: null, admin: false });
    expect(info.headers['content-security-policy']).toContain("default-src 'none'");
    const list = await request(r.app).get('/ui/api/repositories');
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ repositories: [], next: null });
    for (const name of ['team/app', 'secret/db', 'no/such']) {
      const res = await request(r.app).get('/ui/api/repository').query({ name });
      expect(res.status).toBe(404);
      expect(res.body.errors[0].code).toBe('NAME_UNKNOWN');
    }
    expect((await request(r.app).get('/ui/api/storage')).status).toBe(401);
  });
});

describe('signing in', () => {
  test('sets an HttpOnly, SameSite=Strict session cookie scoped to /ui; the token is in no body', async () => {
    const csrf = 'd'.repeat(24);
    const res = await request(r.app).post('/ui/api/session').set('Cookie', `bollard_csrf=${csrf}`).set('X-Bollard-CSRF', csrf).send({ username: 'alice', password: ALICE });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user: 'alice' });
    const cookie = (res.headers['set-cookie'] as unknown as string[])[0] as string;
    expect(cookie).toMatch(/^bollard_session=[\w-]+\.[\w-]+\.[\w-]+; Path=\/ui; SameSite=Strict; Max-Age=3600; HttpOnly$/);
    // behind TLS (a trusted proxy saying https) the cookie is Secure too
    const tls = await createAuthRegistry({ BOLLARD_TRUST_PROXY: '1' });
    try {
      await addUser(tls.pool, 'alice', ALICE, []);
      const res2 = await request(tls.app).post('/ui/api/session').set('X-Forwarded-Proto', 'https').set('Host', 'reg.example').set('Cookie', `bollard_csrf=${csrf}`).set('X-Bollard-CSRF', csrf).send({ username: 'alice', password: ALICE });
      expect((res2.headers['set-cookie'] as unknown as string[])[0]).toMatch(/; Secure$/);
    } finally {
      await tls.close();
    }
  });

  test('refuses a wrong password, robots, a missing CSRF header and a foreign Origin', async () => {
    const csrf = 'e'.repeat(24);
    const post = () => request(r.app).post('/ui/api/session').set('Cookie', `bollard_csrf=${csrf}`).set('X-Bollard-CSRF', csrf);
    expect((await post().send({ username: 'alice', password: 'wrong' })).status).toBe(401);
    const robot = await post().send({ username: 'robot$ci', password: 'whatever' });
    expect(robot.status).toBe(403);
    expect(robot.body.errors[0].detail).toMatch(/robot/);
    expect((await request(r.app).post('/ui/api/session').set('Cookie', `bollard_csrf=${csrf}`).send({ username: 'alice', password: ALICE })).status).toBe(403);
    expect((await post().set('Origin', 'https://evil.example').send({ username: 'alice', password: ALICE })).status).toBe(403);
    expect((await post().set('Content-Type', 'application/json').send('{not json')).status).toBe(400);
    expect((await post().send([1, 2])).status).toBe(401);
  });
});

describe('a signed-in user', () => {
  test('sees only what they may pull, and may not delete without the right', async () => {
    const cookies = await signIn('alice', ALICE);
    const list = await request(r.app).get('/ui/api/repositories').set('Cookie', cookies);
    expect(list.body.repositories.map((x: { name: string }) => x.name)).toEqual(['team/app']);
    expect(list.body.repositories[0]).toMatchObject({ tags: 2 });
    expect((await request(r.app).get('/ui/api/repository').query({ name: 'secret/db' }).set('Cookie', cookies)).status).toBe(404);
    const repo = await request(r.app).get('/ui/api/repository').query({ name: 'team/app' }).set('Cookie', cookies);
    expect(repo.body).toMatchObject({ canDelete: false, immutable: [{ tagPattern: 'v1' }] });
    const m = await request(r.app).get('/ui/api/manifest').query({ name: 'team/app', tag: 'v2' }).set('Cookie', cookies);
    expect(m.body).toMatchObject({ digest: images.get('team/app:v2')?.digest, image: { os: 'linux', architecture: 'amd64', env: ['A=1'] } });
    const del = await request(r.app).delete('/ui/api/tag').query({ name: 'team/app', tag: 'v2' }).set('Cookie', cookies).set('X-Bollard-CSRF', 'c'.repeat(24));
    expect(del.status).toBe(403);
    expect((await request(r.app).get('/ui/api/storage').set('Cookie', cookies)).status).toBe(403);
  });

  test('an admin deletes through the registry\'s own rules: immutable tags refuse, with the reason', async () => {
    const cookies = await signIn('admin', ADMIN_PASSWORD);
    const del = (what: Record<string, string>, path = 'tag', csrf = 'c'.repeat(24)) =>
      request(r.app).delete(`/ui/api/${path}`).query({ name: 'team/app', ...what }).set('Cookie', cookies).set('X-Bollard-CSRF', csrf);
    expect((await del({ tag: 'v2' }, 'tag', 'x'.repeat(24))).status).toBe(403); // CSRF header must match the cookie
    const refused = await del({ tag: 'v1' });
    expect(refused.status).toBe(403);
    expect(refused.body.errors[0].detail).toMatch(/immutable rule/);
    const manifest = await del({ digest: images.get('team/app:v1')?.digest as string }, 'manifest');
    expect(manifest.status).toBe(403);
    expect(manifest.body.errors[0].detail).toMatch(/immutable/);
    expect((await del({ tag: 'v2' })).status).toBe(200);
    expect((await del({ tag: 'v2' })).status).toBe(404);
    expect((await del({ tag: 'bad tag!' })).status).toBe(400);
    expect((await del({ digest: 'sha256:nope' }, 'manifest')).status).toBe(400);
    const events = await request(r.app).get('/ui/api/events').query({ name: 'team/app' }).set('Cookie', cookies);
    expect(events.body.events[0]).toMatchObject({ kind: 'tag.delete', tag: 'v2' });
    // newest first, a page at a time: `next` is the `before` of the older page
    const one = await request(r.app).get('/ui/api/events').query({ name: 'team/app', limit: '1' }).set('Cookie', cookies);
    expect(one.body.events).toHaveLength(1);
    const older = await request(r.app).get('/ui/api/events').query({ name: 'team/app', limit: '1', before: one.body.next }).set('Cookie', cookies);
    expect(older.body.events[0].id).toBeLessThan(one.body.events[0].id);
    const storage = await request(r.app).get('/ui/api/storage').set('Cookie', cookies);
    expect(storage.status).toBe(200);
    expect(storage.body.stored_bytes).toBeGreaterThan(0);
  });

  test('bad query input is a 4xx with an error body, never a 500', async () => {
    const cookies = await signIn('admin', ADMIN_PASSWORD);
    const cases: Array<[string, Record<string, string>]> = [
      ['repositories', { n: '0' }],
      ['repositories', { n: '-1' }],
      ['repositories', { q: 'x'.repeat(300) }],
      ['repository', {}],
      ['repository', { name: 'UPPER/case' }],
      ['manifest', { name: 'team/app' }],
      ['manifest', { name: 'team/app', digest: 'sha256:abc' }],
      ['manifest', { name: 'team/app', tag: 'nope' }],
      ['events', { name: 'team/app', before: 'x' }],
      ['events', { name: 'team/app', limit: '0' }],
      ['repositories', { q: 'a\u0000b' }],
      ['manifest', { name: 'team/app', tag: 'a\u0000' }],
      ['manifest', { name: 'team/app', tag: 'x'.repeat(200) }],
    ];
    for (const [path, query] of cases) {
      const res = await request(r.app).get(`/ui/api/${path}`).query(query).set('Cookie', cookies);
      expect(res.status, `${path} ${JSON.stringify(query)}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${path} ${JSON.stringify(query)}`).toBeLessThan(500);
      expect(res.body.errors[0].code).toBeTypeOf('string');
    }
    // percent-escapes that decode to nothing PostgreSQL can hold
    for (const raw of ['/ui/api/repositories?q=%00', '/ui/api/repositories?last=%ED%A0%80', '/ui/api/repositories?q=%FF']) {
      const res = await request(r.app).get(raw).set('Cookie', cookies);
      expect(res.status, raw).toBeLessThan(500);
    }
    // keyset pages: `next` is the `last` of the following page
    const first = await request(r.app).get('/ui/api/repositories').query({ n: '1' }).set('Cookie', cookies);
    expect(first.body).toMatchObject({ repositories: [{ name: 'secret/db' }], next: 'secret/db' });
    const second = await request(r.app).get('/ui/api/repositories').query({ n: '1', last: first.body.next }).set('Cookie', cookies);
    expect(second.body).toMatchObject({ repositories: [{ name: 'team/app' }], next: null });
    // a repository search with LIKE's wildcards means the characters
    const like = await request(r.app).get('/ui/api/repositories').query({ q: '%' }).set('Cookie', cookies);
    expect(like.body.repositories).toEqual([]);
    // a forged or foreign cookie is simply no session
    const forged = await request(r.app).get('/ui/api/session').set('Cookie', 'bollard_session=a.b.c');
    expect(forged.body.user).toBeNull();
  });
});
