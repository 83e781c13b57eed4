// Many concurrent pushes to one repository commit together (src/registry/content/
// manifest-commit.ts): each client still gets the answer it would get alone, the
// refused ones change nothing, every change has its events exactly once, and the
// refcounts equal a recount.
import { sql } from 'slonik';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { lockRepositoryForWrite } from '../../src/db/repositories.ts';
import { addImmutableRule } from '../../src/db/retention.ts';
import { commitChanges, prepareChange } from '../../src/registry/content/manifest-commit.ts';
import { parseReference, parseRepoName } from '../../src/shared/names.ts';
import { pushBlob, pushManifest } from '../support/client.ts';
import { imageManifest, OCI_MANIFEST, randomBlob, type Blob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { refcountDrift } from '../support/rows.ts';

let reg: TestRegistry;
const A = 'batch/a';
const B = 'batch/b';
const config = randomBlob(100);
const layer = randomBlob(500);
const image = (label: string, layers: Blob[] = [layer]) => imageManifest(config, layers, { annotations: { label } });
const m1 = image('one');
const m2 = image('two');

beforeAll(async () => {
  reg = await createTestRegistry();
  await addImmutableRule(reg.pool, 'batch/*', 'v[0-9]+');
  for (const repo of [A, B]) for (const b of [config, layer]) await pushBlob(reg.app, repo, b);
  await pushManifest(reg.app, A, 'v1', m1, OCI_MANIFEST);
  await pushManifest(reg.app, A, m2.digest, m2, OCI_MANIFEST);
});
afterAll(() => reg.close());

const EventRow = z.object({ kind: z.string(), repository: z.string(), tag: z.string().nullable(), digest: z.string().nullable(), tx: z.string() });
const eventsAfter = (id: number) =>
  reg.pool.any(sql.type(EventRow)`SELECT kind, repository, tag, digest, xmin::text AS tx FROM events WHERE id > ${id} ORDER BY id`);
const lastEventId = () => reg.pool.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT coalesce(max(id), 0)::int8 AS id FROM events`);
const repositoryId = (name: string) => reg.pool.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT id FROM repositories WHERE name = ${name}`);
const put = (repo: string, ref: string, m: Blob) => request(reg.app).put(`/v2/${repo}/manifests/${ref}`).set('Content-Type', OCI_MANIFEST).send(m.data.toString('utf8'));
const tagsOf = async (repo: string) => ((await request(reg.app).get(`/v2/${repo}/tags/list`)).body as { tags: string[] }).tags;

/** Holds the repository's row lock, as a commit in flight does, until the returned release is called. */
async function holdRepository(name: string): Promise<{ release(): Promise<void> }> {
  const id = await repositoryId(name);
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let taken!: () => void;
  const locked = new Promise<void>((resolve) => (taken = resolve));
  const holder = reg.pool.transaction(async (tx) => {
    await lockRepositoryForWrite(tx, id);
    taken();
    await held;
  });
  await locked;
  return {
    release: async () => {
      release();
      await holder;
    },
  };
}

const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`);

describe('concurrent pushes to one repository', () => {
  test('queued behind a held repository lock, they commit together; each answers as alone', async () => {
    const since = await lastEventId();
    const m3 = image('three');
    const m4 = image('four', [randomBlob(300)]); // its layer was never pushed
    const m5 = image('five');
    const newTags = range('n', 40);
    const m2Tags = range('m', 5);
    const bTags = range('b', 10);
    const lock = await holdRepository(A);
    let releasedAt = Infinity;
    const answeredAt: number[] = [];
    const timed = async (r: Promise<request.Response>) => {
      const res = await r;
      answeredAt.push(Date.now());
      return res;
    };
    const pushesA = [
      ...newTags.map((t) => timed(put(A, t, m1)).then((r) => ['new', t, r] as const)),
      ...m2Tags.map((t) => timed(put(A, t, m2)).then((r) => ['m2', t, r] as const)),
      ...[0, 1, 2, 3, 4].map(() => timed(put(A, 'v1', m2)).then((r) => ['move v1', 'v1', r] as const)),
      ...[0, 1, 2].map(() => timed(put(A, 'v2', m3)).then((r) => ['v2', 'v2', r] as const)),
      ...['bad0', 'bad1'].map((t) => timed(put(A, t, m4)).then((r) => ['unknown blob', t, r] as const)),
      timed(request(reg.app).put(`/v2/${A}/manifests/${m5.digest}?tag=ok1&tag=v1`).set('Content-Type', OCI_MANIFEST).send(m5.data.toString('utf8'))).then(
        (r) => ['digest with v1', 'ok1', r] as const,
      ),
    ];
    // another repository is not held up by this one's lock
    const pushesB = await Promise.all(bTags.map((t) => put(B, t, m1)));
    expect(pushesB.map((r) => r.status)).toEqual(bTags.map(() => 201));
    await new Promise((r) => setTimeout(r, 500)); // the pushes to A arrive and queue
    expect(answeredAt).toEqual([]);
    releasedAt = Date.now();
    await lock.release();
    const results = await Promise.all(pushesA);
    expect(answeredAt.every((t) => t >= releasedAt)).toBe(true);

    const statuses = results.map(([what, tag, r]) => `${what} ${tag} ${r.status} ${(r.body as { errors?: Array<{ code: string }> }).errors?.[0]?.code ?? ''}`.trim());
    const expected = [
      ...newTags.map((t) => `new ${t} 201`),
      ...m2Tags.map((t) => `m2 ${t} 201`),
      ...[0, 1, 2, 3, 4].map(() => 'move v1 v1 403 DENIED'),
      ...[0, 1, 2].map(() => 'v2 v2 201'),
      'unknown blob bad0 400 MANIFEST_BLOB_UNKNOWN',
      'unknown blob bad1 400 MANIFEST_BLOB_UNKNOWN',
      'digest with v1 ok1 403 DENIED',
    ];
    expect(statuses).toEqual(expected);

    expect(await tagsOf(A)).toEqual(['v1', 'v2', ...m2Tags, ...newTags].sort());
    expect(await tagsOf(B)).toEqual(bTags);
    const v1 = await request(reg.app).head(`/v2/${A}/manifests/v1`);
    expect(v1.headers['docker-content-digest']).toBe(m1.digest);
    for (const m of [m4, m5]) expect((await request(reg.app).head(`/v2/${A}/manifests/${m.digest}`)).status).toBe(404);

    const events = await eventsAfter(since);
    const of = (repo: string) => events.filter((e) => e.repository === repo).map((e) => `${e.kind} ${e.tag ?? ''} ${e.digest}`);
    const sets = (tags: string[], m: Blob) => tags.map((t) => `tag.set ${t} ${m.digest}`);
    // B's ten pushes race each other: which tag commits first is theirs to decide, so compare as sets
    expect(of(B).sort()).toEqual([`manifest.push  ${m1.digest}`, ...sets(bTags, m1)].sort());
    expect(of(A).sort()).toEqual([...sets(newTags, m1), ...sets(m2Tags, m2), `manifest.push  ${m3.digest}`, ...sets(['v2'], m3)].sort());
    // the 60 pushes to A waited for one lock: the first alone, then the rest in one transaction
    expect(new Set(events.filter((e) => e.repository === A).map((e) => e.tx)).size).toBeLessThanOrEqual(2);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('without immutable rules, new tags go in one statement; moves, repeats and no-ops as one by one', async () => {
    const C = 'free/c';
    for (const b of [config, layer]) await pushBlob(reg.app, C, b);
    await pushManifest(reg.app, C, 'old', m1, OCI_MANIFEST);
    await pushManifest(reg.app, C, 'kept', m1, OCI_MANIFEST);
    await pushManifest(reg.app, C, m2.digest, m2, OCI_MANIFEST);
    const since = await lastEventId();
    const newTags = range('c', 20);
    const lock = await holdRepository(C);
    const pushes = [
      ...newTags.map((t) => put(C, t, m1)),
      put(C, 'old', m2), // a move
      put(C, 'kept', m1), // changes nothing
      put(C, 'dup', m1), // the same new tag to two manifests: a create, then a move
      put(C, 'dup', m2),
      put(C, 'same', m2), // the same new tag twice to one manifest: one change
      put(C, 'same', m2),
    ];
    await new Promise((r) => setTimeout(r, 500));
    await lock.release();
    expect((await Promise.all(pushes)).map((r) => r.status)).toEqual(pushes.map(() => 201));

    const events = (await eventsAfter(since)).filter((e) => e.repository === C);
    const sets = events.map((e) => `${e.kind} ${e.tag} ${e.digest}`);
    const dups = events.filter((e) => e.tag === 'dup');
    expect(dups.map((e) => e.digest).sort()).toEqual([m1.digest, m2.digest].sort());
    const expected = [...newTags.map((t) => `tag.set ${t} ${m1.digest}`), `tag.set old ${m2.digest}`, `tag.set same ${m2.digest}`, ...dups.map((e) => `tag.set dup ${e.digest}`)];
    expect([...sets].sort()).toEqual(expected.sort());
    expect(new Set(events.map((e) => e.tx)).size).toBeLessThanOrEqual(2);
    const digestOf = async (tag: string) => (await request(reg.app).head(`/v2/${C}/manifests/${tag}`)).headers['docker-content-digest'];
    expect(await digestOf('dup')).toBe(dups.at(-1)?.digest);
    expect(await digestOf('old')).toBe(m2.digest);
    expect(await digestOf('kept')).toBe(m1.digest);
    expect(await tagsOf(C)).toEqual([...newTags, 'dup', 'kept', 'old', 'same'].sort());
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('a change failing in the database fails alone: the others of its batch commit', async () => {
    const name = parseRepoName(A);
    const change = (tag: string, m: Blob) => prepareChange(name, parseReference(tag), m.data, OCI_MANIFEST, [], false);
    const broken = change('broken', image('six'));
    // past the parser, a value the database refuses: a NUL in an annotation
    broken.parsed = { ...broken.parsed, annotations: { label: 'a\u0000b' } };
    const results = await commitChanges(reg.pool, name, [change('f1', m1), broken, change('f2', m2)]);
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(await tagsOf(A)).toEqual(expect.arrayContaining(['f1', 'f2']));
    expect(await tagsOf(A)).not.toContain('broken');
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });
});
