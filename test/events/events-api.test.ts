// GET /admin/events: the event journal read by cursor, paged like the OCI
// listings, never skipping an event that commits after a later-numbered one.
import pg from 'pg';
import { sql } from 'slonik';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { encodeEvent } from '../../src/db/events.ts';
import { pushBlob, pushManifest, expectOciError } from '../support/client.ts';
import { emptyConfig, imageManifest, OCI_MANIFEST, randomBlob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { addUser, basic, createAuthRegistry, fetchToken, ADMIN_PASSWORD, type AuthRegistry } from '../auth/support.ts';

interface Page {
  events: Array<{ id: number; kind: string; repository: string | null; digest: string | null; tag: string | null; time: string; [k: string]: unknown }>;
  next: string;
}

let reg: TestRegistry;
beforeAll(async () => {
  reg = await createTestRegistry();
});
afterAll(() => reg?.close());

async function pushImage(repo: string, tag: string): Promise<string> {
  const layer = randomBlob(64);
  await pushBlob(reg.app, repo, emptyConfig);
  await pushBlob(reg.app, repo, layer);
  const m = imageManifest(emptyConfig, [layer]);
  await pushManifest(reg.app, repo, tag, m, OCI_MANIFEST);
  return m.digest;
}

async function events(query: string): Promise<{ status: number; body: Page; link: string | undefined }> {
  const res = await request(reg.app).get(`/admin/events${query}`);
  return { status: res.status, body: res.body as Page, link: res.headers['link'] };
}

/** All events from the cursor on, following `next` until a page comes back short. */
async function drain(since: string, limit: number, repository?: string): Promise<{ events: Page['events']; next: string }> {
  const out: Page['events'] = [];
  let cursor = since;
  for (;;) {
    const q = new URLSearchParams({ since: cursor, limit: String(limit), ...(repository ? { repository } : {}) });
    const page = await events(`?${q}`);
    expect(page.status).toBe(200);
    out.push(...page.body.events);
    cursor = page.body.next;
    if (page.body.events.length < limit) return { events: out, next: cursor };
  }
}

/**
 * Waits until the journal shows every committed event (it holds events back while
 * older transactions anywhere in the cluster, such as other test files', still run)
 * and returns them all with the cursor after them.
 */
async function settled(repository?: string): Promise<{ events: Page['events']; next: string }> {
  const committed = Number(
    (await reg.pool.oneFirst(sql.type(z.object({ n: z.number() }))`
      SELECT count(*) AS n FROM events WHERE ${repository ? sql.fragment`repository = ${repository}` : sql.fragment`true`}`)),
  );
  for (let i = 0; ; i++) {
    const all = await drain('', 1000, repository);
    if (all.events.length === committed) return all;
    if (i > 1000) throw new Error(`the journal shows ${all.events.length} of ${committed} events`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('listing', () => {
  test('events come in order with their columns and decoded payload', async () => {
    const digest = await pushImage('journal/a', 'v1');
    await settled();
    const res = await events('');
    expect(res.status).toBe(200);
    const push = res.body.events.find((e) => e.kind === 'manifest.push');
    expect(push).toMatchObject({ repository: 'journal/a', digest, mediaType: OCI_MANIFEST });
    expect(res.body.events.find((e) => e.kind === 'tag.set')).toMatchObject({ repository: 'journal/a', tag: 'v1', digest });
    const ids = res.body.events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(Date.parse(res.body.events[0]?.time as string)).toBeGreaterThan(Date.now() - 60_000);
    expect(res.body.next).toMatch(/^\d+-\d+$/);
    expect(res.link).toBeUndefined(); // one short page: nothing more
  });

  test('pages follow the Link header and end where a poller resumes', async () => {
    await pushImage('journal/b', 'v1');
    await pushImage('journal/c', 'v1');
    const all = (await settled()).events;
    const first = await events('?limit=2&repository=journal/b');
    expect(first.body.events).toHaveLength(2);
    expect(first.link).toBe(`</admin/events?repository=journal%2Fb&limit=2&since=${encodeURIComponent(first.body.next)}>; rel="next"`);
    const paged = await drain('', 2);
    expect(paged.events.map((e) => e.id)).toEqual(all.map((e) => e.id));
    const onlyB = await drain('', 3, 'journal/b');
    expect(onlyB.events.length).toBeGreaterThan(2);
    expect(onlyB.events.every((e) => e.repository === 'journal/b')).toBe(true);
    // nothing new: the same cursor comes back; a new push shows up after it
    const idle = await events(`?since=${paged.next}`);
    expect(idle.body).toEqual({ events: [], next: paged.next });
    await pushImage('journal/b', 'v2');
    await settled();
    const fresh = await drain(paged.next, 100);
    expect(fresh.events.some((e) => e.kind === 'tag.set' && e.tag === 'v2')).toBe(true);
  });

  test('bad parameters get OCI errors', async () => {
    expectOciError(await request(reg.app).get('/admin/events?limit=ten'), 400, 'PAGINATION_NUMBER_INVALID');
    expectOciError(await request(reg.app).get('/admin/events?limit=-1'), 400, 'PAGINATION_NUMBER_INVALID');
    expectOciError(await request(reg.app).get('/admin/events?since=42'), 400, 'PAGINATION_CURSOR_INVALID');
    expectOciError(await request(reg.app).get('/admin/events?since=1-x'), 400, 'PAGINATION_CURSOR_INVALID');
    expectOciError(await request(reg.app).get('/admin/events?repository=Not..Valid'), 400, 'NAME_INVALID');
    expect((await events('?limit=0')).body.events).toEqual([]);
  });
});

describe('commit order', () => {
  let a: pg.Client;
  let b: pg.Client;
  beforeAll(async () => {
    a = new pg.Client({ connectionString: reg.db.url });
    b = new pg.Client({ connectionString: reg.db.url });
    await a.connect();
    await b.connect();
  });
  afterAll(async () => {
    await a?.end();
    await b?.end();
  });

  const insert = (c: pg.Client, tag: string) =>
    c.query('INSERT INTO events (kind, repository, tag, payload) VALUES ($1, $2, $3, $4) RETURNING id', [
      'tag.set',
      'journal/race',
      tag,
      encodeEvent({ kind: 'tag.set', repository: 'journal/race', tag }),
    ]);
  const tagsAfter = async (cursor: string) => {
    const page = await drain(cursor, 100, 'journal/race');
    return { tags: page.events.map((e) => e.tag), next: page.next };
  };

  test('an event numbered before one already read but committed after it is still returned', async () => {
    const start = (await settled()).next;
    // b takes its transaction id first, then numbers its event after a's: a has
    // the smaller id, b the smaller xid. b commits first; a commits last.
    await b.query('BEGIN');
    await b.query('SELECT pg_current_xact_id()');
    await a.query('BEGIN');
    const idA = (await insert(a, 'late')).rows[0].id;
    const idB = (await insert(b, 'early')).rows[0].id;
    expect(Number(idA)).toBeLessThan(Number(idB));
    await b.query('COMMIT');
    // b's event is behind the horizon only once older transactions finished: a is still open
    // but younger, so b's event may be read now, and a's not yet
    let seen = await tagsAfter(start);
    for (let i = 0; i < 200 && seen.tags.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
      seen = await tagsAfter(start);
    }
    expect(seen.tags).toEqual(['early']);
    await a.query('COMMIT');
    let later = await tagsAfter(seen.next);
    for (let i = 0; i < 200 && later.tags.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
      later = await tagsAfter(seen.next);
    }
    expect(later.tags).toEqual(['late']);
  });

  test('the order is numeric across transaction ids of more digits', async () => {
    const start = (await settled()).next;
    await insert(a, 'before');
    // burn transaction ids up to the next power of ten, so the next one has one digit more
    const xid = BigInt((await a.query('SELECT pg_current_xact_id()::text AS x')).rows[0].x);
    const burn = Number(10n ** BigInt(xid.toString().length) - xid);
    await a.query(`DO $$ BEGIN FOR i IN 1..${burn} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$`);
    await insert(a, 'after');
    let seen = await tagsAfter(start);
    for (let i = 0; i < 200 && seen.tags.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 25));
      seen = await tagsAfter(start);
    }
    expect(seen.tags).toEqual(['before', 'after']);
  });

  test('events of a transaction still running hold back the ones committed after them', async () => {
    const start = (await settled()).next;
    await a.query('BEGIN');
    await insert(a, 'first');
    await insert(b, 'second'); // commits at once, with a larger id and xid
    expect((await tagsAfter(start)).tags).toEqual([]);
    await a.query('COMMIT');
    let seen = await tagsAfter(start);
    for (let i = 0; i < 200 && seen.tags.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 25));
      seen = await tagsAfter(start);
    }
    expect(seen.tags).toEqual(['first', 'second']);
  });
});

describe('with token auth', () => {
  let auth: AuthRegistry;
  beforeAll(async () => {
    auth = await createAuthRegistry();
    await addUser(auth.pool, 'reader', 'reader-secret-1', [['**', ['pull']]]);
  });
  afterAll(() => auth?.close());

  test('only a superuser may read the journal', async () => {
    const none = await request(auth.app).get('/admin/events');
    expectOciError(none, 401, 'UNAUTHORIZED');
    expectOciError(await request(auth.app).get('/admin/events').set('Authorization', basic('admin', 'wrong-password')), 401, 'UNAUTHORIZED');
    expectOciError(await request(auth.app).get('/admin/events').set('Authorization', basic('reader', 'reader-secret-1')), 403, 'DENIED');
    const readerToken = await fetchToken(auth.app, ['reader', 'reader-secret-1'], []);
    expectOciError(await request(auth.app).get('/admin/events').set('Authorization', `Bearer ${readerToken}`), 403, 'DENIED');
    const ok = await request(auth.app).get('/admin/events').set('Authorization', basic('admin', ADMIN_PASSWORD));
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ events: expect.any(Array), next: expect.any(String) });
    const token = await fetchToken(auth.app, ['admin', ADMIN_PASSWORD], []);
    expect((await request(auth.app).get('/admin/events?limit=1').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expectOciError(await request(auth.app).get('/admin/events').set('Authorization', 'Bearer not-a-token'), 401, 'UNAUTHORIZED');
  });
});
