// Eviction by last pull: pulls counted in memory and flushed in one statement, the
// unpulled rule of a retention policy, and the flush of `bollard serve` when it stops.
import type { Express } from 'express';
import pg from 'pg';
import request from 'supertest';
import { sql, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createLogger } from '../../src/logger.ts';
import { PullRecorder } from '../../src/registry/content/pulls.ts';
import { recordPulls } from '../../src/db/pulls.ts';
import { addImmutableRule, upsertPolicy } from '../../src/db/retention.ts';
import { collectGarbage } from '../../src/registry/gc/collector.ts';
import { runRetention } from '../../src/registry/retention/run.ts';
import { pushManifest } from '../support/client.ts';
import { imageIndex, OCI_INDEX, type Blob } from '../support/fixtures.ts';
import { createTestRegistry, DEFAULT_OPTIONS, type TestRegistry } from '../support/registry.ts';
import { refcountDrift } from '../support/rows.ts';
import { startServer } from '../support/server.ts';
import { config, dryThenReal as check, layer, manifestExists, pushImage, pushLayers, tagsOf } from './support.ts';

const DAY = 86_400;
let reg: TestRegistry;
let pulls: PullRecorder;
/** The registry's app with pulls counted (reg.app counts none: pushes and checks go through it). */
let puller: Express;

beforeAll(async () => {
  reg = await createTestRegistry();
  pulls = new PullRecorder(reg.pool, createLogger(process.env.TEST_LOG === '1' ? 'debug' : 'silent'));
  puller = createApp({ pool: reg.pool, store: reg.store, log: createLogger('silent'), options: DEFAULT_OPTIONS, pulls });
});
afterAll(() => reg.close());
beforeEach(async () => {
  await reg.pool.query(sql.unsafe`DELETE FROM retention_policies`);
  await reg.pool.query(sql.unsafe`DELETE FROM immutable_tags`);
});

const LastPull = z.object({ at: z.string().nullable() });
async function lastPulled(digest: string): Promise<string | null> {
  return reg.pool.oneFirst(sql.type(LastPull)`SELECT last_pulled_at::text AS at FROM manifests WHERE digest = ${digest}`);
}

/** Pretends the tag was pushed, and its manifest pushed, that many days ago. */
async function agePush(repo: string, days: number, tag: string | null, digest: string): Promise<void> {
  const ago = sql.fragment`now() - ${days * DAY} * interval '1 second'`;
  await reg.pool.query(sql.unsafe`UPDATE manifests SET created_at = ${ago} WHERE digest = ${digest}`);
  if (tag !== null) {
    await reg.pool.query(sql.unsafe`
      UPDATE tags SET updated_at = ${ago} WHERE name = ${tag}
        AND repository_id = (SELECT id FROM repositories WHERE name = ${repo})`);
  }
}

async function agePull(digest: string, days: number): Promise<void> {
  await reg.pool.query(sql.unsafe`UPDATE manifests SET last_pulled_at = now() - ${days * DAY} * interval '1 second' WHERE digest = ${digest}`);
}

const policy = (glob: string, p: { keepLast?: number; keepRegex?: string; unpulledDays: number }) =>
  upsertPolicy(reg.pool, { repositoryGlob: glob, keepLast: p.keepLast ?? null, keepRegex: p.keepRegex ?? null, untaggedDelaySeconds: null, unpulledDelaySeconds: p.unpulledDays * DAY });

const dryThenReal = () => check(reg.pool);

describe('pulls are counted in memory and written by a flush', () => {
  test('GET by tag or digest counts after the flush; HEAD does not; times only move forward', async () => {
    await pushLayers(reg.app, 'count/app');
    const byTag = await pushImage(reg.app, 'count/app', 'by-tag', 'v1');
    const byDigest = await pushImage(reg.app, 'count/app', 'by-digest', null);
    const headOnly = await pushImage(reg.app, 'count/app', 'head-only', 'v2');
    expect((await request(puller).get('/v2/count/app/manifests/v1')).status).toBe(200);
    expect((await request(puller).get(`/v2/count/app/manifests/${byDigest.digest}`)).status).toBe(200);
    expect((await request(puller).head('/v2/count/app/manifests/v2')).status).toBe(200);
    expect(await lastPulled(byTag.digest)).toBeNull(); // nothing written on the request path
    await pulls.flush();
    expect(await lastPulled(byTag.digest)).not.toBeNull();
    expect(await lastPulled(byDigest.digest)).not.toBeNull();
    expect(await lastPulled(headOnly.digest)).toBeNull();
    // a later flush of an earlier pull (another replica's) leaves the later time
    await reg.pool.query(sql.unsafe`UPDATE manifests SET last_pulled_at = now() + interval '1 day' WHERE digest = ${byTag.digest}`);
    const ahead = await lastPulled(byTag.digest);
    await request(puller).get('/v2/count/app/manifests/v1');
    await pulls.flush();
    expect(await lastPulled(byTag.digest)).toBe(ahead);
    await pulls.flush(); // an empty batch writes nothing
  });

  test("a pull of an index's child counts for the index", async () => {
    await pushLayers(reg.app, 'count/multi');
    const child = await pushImage(reg.app, 'count/multi', 'child', null);
    const other = await pushImage(reg.app, 'count/multi', 'other', null);
    const index = imageIndex([{ manifest: child }, { manifest: other, platform: { architecture: 'arm64', os: 'linux' } }]);
    await pushManifest(reg.app, 'count/multi', 'latest', index, OCI_INDEX);
    expect((await request(puller).get(`/v2/count/multi/manifests/${child.digest}`)).status).toBe(200);
    await pulls.flush();
    expect(await lastPulled(child.digest)).not.toBeNull();
    expect(await lastPulled(index.digest)).toBe(await lastPulled(child.digest));
    expect(await lastPulled(other.digest)).toBeNull();
  });

  test("a flush reads the batch's rows, not the repository's: its cost does not grow with the registry", async () => {
    // 3 000 more manifests in the pulled manifest's repository; a flush that looked rows up by
    // repository and digest read them all (bench:growth: 37 s for 1 000 pulls at a million manifests)
    await pushLayers(reg.app, 'count/big');
    const pulled = await pushImage(reg.app, 'count/big', 'pulled', 'v1');
    // and 2 000 repositories of 3 manifests: most repositories are small, as in a real registry
    await reg.pool.query(sql.unsafe`INSERT INTO repositories (name) SELECT 'count/small' || k FROM generate_series(1, 2000) k`);
    const addManifests = (repositories: string, count: number) => reg.pool.query(sql.unsafe`
      INSERT INTO manifests (repository_id, digest, digest_sha512, media_type, content)
      SELECT r.id, 'sha256:' || encode(sha256(int8send(i)), 'hex'), 'sha512:' || encode(sha512(int8send(i)), 'hex'),
             'application/vnd.oci.image.manifest.v1+json', int8send(i)
      FROM repositories r, generate_series(1, ${count}) i WHERE r.name LIKE ${repositories}`);
    await addManifests('count/big', 3000);
    await addManifests('count/small%', 3);
    await reg.pool.query(sql.unsafe`ANALYZE manifests`);
    const id = await reg.pool.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT id FROM manifests WHERE digest = ${pulled.digest}`);
    const Read = z.object({ read: z.number() });
    // rows this backend read from manifests by any scan, counted before and after the flush in one
    // transaction (the view also holds the backend's counts not yet sent to the statistics)
    const rowsRead = (tx: DatabaseTransactionConnection) => tx.oneFirst(sql.type(Read)`
      SELECT (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::int AS read FROM pg_stat_xact_user_tables WHERE relname = 'manifests'`);
    const read = await reg.pool.transaction(async (tx) => {
      const before = await rowsRead(tx);
      await recordPulls(tx, [{ id, at: Date.now() }]);
      return (await rowsRead(tx)) - before;
    });
    expect(read).toBeLessThan(100);
    expect(await lastPulled(pulled.digest)).not.toBeNull();
  });
});

describe('the unpulled rule of a retention policy', () => {
  test('old and recent pulls: dry run, then real run; keep rules and immutable tags protect; GC reclaims the blobs', async () => {
    const repo = 'cache/app';
    await pushLayers(reg.app, repo);
    const names = ['stale', 'recent', 'pulled-long-ago', 'v1', 'pinned'] as const;
    const img = {} as Record<(typeof names)[number], Blob>;
    for (const t of names) {
      img[t] = await pushImage(reg.app, repo, t, t);
      await agePush(repo, 40, t, img[t].digest);
    }
    const loose = await pushImage(reg.app, repo, 'loose', null); // untagged, never pulled
    await agePush(repo, 40, null, loose.digest);
    const looseRecent = await pushImage(reg.app, repo, 'loose-recent', null); // untagged, pulled today
    await agePush(repo, 40, null, looseRecent.digest);
    await agePull(img['pulled-long-ago'].digest, 31);
    await request(puller).get(`/v2/${repo}/manifests/recent`);
    await request(puller).get(`/v2/${repo}/manifests/${looseRecent.digest}`);
    await pulls.flush();
    await addImmutableRule(reg.pool, 'cache/*', 'pin.*');
    await policy('cache/*', { keepRegex: 'v[0-9]+', unpulledDays: 30 });

    const dry = await runRetention(reg.pool, { dryRun: true });
    expect(dry?.items.map((i) => i.tag ?? i.digest).sort()).toEqual(['pulled-long-ago', 'stale', img.stale.digest, img['pulled-long-ago'].digest, loose.digest].sort());
    expect(dry?.items.find((i) => i.tag === 'stale')?.reason).toBe('policy "cache/*": neither pushed nor pulled for at least 2592000s and not matching /v[0-9]+/');
    expect(dry?.items.find((i) => i.digest === loose.digest)?.reason).toBe('policy "cache/*": untagged, and neither pushed nor pulled for at least 2592000s');
    expect(await tagsOf(reg.app, repo)).toHaveLength(5);

    const items = await dryThenReal();
    expect(items.length).toBe(5);
    expect(await tagsOf(reg.app, repo)).toEqual(['pinned', 'recent', 'v1']);
    for (const gone of [img.stale, img['pulled-long-ago'], loose]) expect(await manifestExists(reg.app, repo, gone.digest)).toBe(false);
    expect(await manifestExists(reg.app, repo, looseRecent.digest)).toBe(true);
    expect(await dryThenReal()).toEqual([]);

    // the layers stay referenced by what is left; the manifests gone lowered the links exactly
    const links = await reg.pool.anyFirst(sql.type(z.object({ refcount: z.number() }))`
      SELECT rb.refcount FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id WHERE r.name = ${repo}`);
    expect(links).toEqual([4, 4]);
    // a repository evicted whole: then GC reclaims its blobs
    await policy('cache/*', { unpulledDays: 0 });
    await reg.pool.query(sql.unsafe`DELETE FROM immutable_tags`);
    await reg.pool.query(sql.unsafe`UPDATE manifests SET last_pulled_at = NULL`);
    await agePush(repo, 1, 'recent', img.recent.digest);
    const all = await dryThenReal();
    expect(all.filter((i) => i.kind === 'tag').map((i) => i.tag).sort()).toEqual(['pinned', 'recent', 'v1']);
    // (the other tests' repositories hold the same two blobs, so here GC drops the links)
    const gc = await collectGarbage({ pool: reg.pool, store: reg.store }, { reviewDelay: 0, untagged: 'keep', orphanReferrers: true });
    expect(gc.deleted.filter((d) => d.target === 'link' && d.repository === repo).map((d) => d.digest).sort()).toEqual([config.digest, layer.digest].sort());
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('with --keep-last the newest tags stay whatever their pulls; a tag pushed lately counts as used', async () => {
    const repo = 'cache/last';
    await pushLayers(reg.app, repo);
    const img = {} as Record<'a' | 'b' | 'c' | 'd', Blob>;
    for (const t of ['a', 'b', 'c'] as const) {
      img[t] = await pushImage(reg.app, repo, t, t);
      await agePush(repo, 40 - t.charCodeAt(0) + 97, t, img[t].digest); // a oldest
    }
    img.d = await pushImage(reg.app, repo, 'd', 'd'); // pushed now, never pulled
    await policy(repo, { keepLast: 1, unpulledDays: 30 });
    // d is the newest (kept by keep-last and by its push); a, b and c are unpulled
    expect((await dryThenReal()).map((i) => i.tag ?? i.digest)).toEqual(['c', 'b', 'a', img.a.digest, img.b.digest, img.c.digest]);
    expect(await tagsOf(reg.app, repo)).toEqual(['d']);
  });

  test("an index's tag stays while its child is pulled by digest; evicted, the children follow in the next pass", async () => {
    const repo = 'cache/index';
    await pushLayers(reg.app, repo);
    const child = await pushImage(reg.app, repo, 'child', null);
    const index = imageIndex([{ manifest: child }]);
    await pushManifest(reg.app, repo, 'latest', index, OCI_INDEX);
    for (const d of [child.digest, index.digest]) await agePush(repo, 40, 'latest', d);
    await policy(repo, { unpulledDays: 30 });
    await request(puller).get(`/v2/${repo}/manifests/${child.digest}`);
    await pulls.flush();
    expect(await dryThenReal()).toEqual([]);
    await agePull(child.digest, 31);
    await agePull(index.digest, 31);
    expect((await dryThenReal()).map((i) => i.tag ?? i.digest)).toEqual(['latest', index.digest]);
    expect((await dryThenReal()).map((i) => i.digest)).toEqual([child.digest]);
  });
});

test('bollard serve flushes the pulls of its last seconds when it stops', async () => {
  const server = await startServer();
  try {
    const empty = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
    expect((await fetch(`${server.url}/v2/flush/app/blobs/uploads/?digest=${empty}`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/octet-stream' } })).status).toBe(201);
    const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/x-test', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: empty, size: 2 }, layers: [] };
    const put = await fetch(`${server.url}/v2/flush/app/manifests/v1`, { method: 'PUT', headers: { 'content-type': manifest.mediaType }, body: JSON.stringify(manifest) });
    expect(put.status).toBe(201);
    expect((await fetch(`${server.url}/v2/flush/app/manifests/v1`)).status).toBe(200);
    expect(await server.stop()).toBe(0); // at once: well within the 5 s between flushes
    const client = new pg.Client({ connectionString: server.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ pulled: boolean }>('SELECT last_pulled_at IS NOT NULL AS pulled FROM manifests');
      expect(rows).toEqual([{ pulled: true }]);
    } finally {
      await client.end();
    }
  } finally {
    await server.destroy();
  }
});
