import request from 'supertest';
import { sql } from 'slonik';
import { z } from 'zod';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { addImmutableRule, upsertPolicy } from '../../src/db/retention.ts';
import { runRetention } from '../../src/registry/retention/run.ts';
import { imageIndex, type Blob } from '../support/fixtures.ts';
import { pushManifest } from '../support/client.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { countRows, refcountDrift } from '../support/rows.ts';
import { ageUnreferenced, dryThenReal as check, manifestExists, pushImage, pushLayers, retentionEvents, tagsOf } from './support.ts';

let reg: TestRegistry;
beforeAll(async () => {
  reg = await createTestRegistry();
});
afterAll(() => reg.close());
beforeEach(async () => {
  await reg.pool.query(sql.unsafe`DELETE FROM retention_policies`);
  await reg.pool.query(sql.unsafe`DELETE FROM immutable_tags`);
});

const policy = (glob: string, p: { keepLast?: number; keepRegex?: string; untagged?: number }) =>
  upsertPolicy(reg.pool, { repositoryGlob: glob, keepLast: p.keepLast ?? null, keepRegex: p.keepRegex ?? null, untaggedDelaySeconds: p.untagged ?? null, unpulledDelaySeconds: null });

async function pushTags(repo: string, tags: string[]): Promise<Map<string, Blob>> {
  await pushLayers(reg.app, repo);
  const out = new Map<string, Blob>();
  for (const t of tags) out.set(t, await pushImage(reg.app, repo, `${repo}:${t}`, t));
  return out;
}

const dryThenReal = () => check(reg.pool);

describe('keep the last N tags and tags matching a regex', () => {
  test('keep-last 2: the older tags go; dry run lists them and changes nothing; events by "retention"', async () => {
    const images = await pushTags('keep/last', ['t1', 't2', 't3', 't4', 't5']);
    await policy('keep/**', { keepLast: 2 });
    const rows = { tags: await countRows(reg.pool, 'tags'), events: await countRows(reg.pool, 'events') };
    const dry = await runRetention(reg.pool, { dryRun: true });
    expect(dry?.items.map((i) => [i.repository, i.kind, i.tag, i.digest])).toEqual(
      ['t3', 't2', 't1'].map((t) => ['keep/last', 'tag', t, images.get(t)?.digest]),
    );
    expect(dry?.items[0]?.reason).toBe('policy "keep/**": older than the 2 most recently pushed tags');
    expect(await countRows(reg.pool, 'tags')).toBe(rows.tags);
    expect(await countRows(reg.pool, 'events')).toBe(rows.events);

    const real = await runRetention(reg.pool, { dryRun: false });
    expect(real?.items).toEqual(dry?.items);
    expect(await tagsOf(reg.app, 'keep/last')).toEqual(['t4', 't5']);
    // the untagged manifests stay: this policy has no untagged rule
    for (const t of ['t1', 't2', 't3']) expect(await manifestExists(reg.app, 'keep/last', images.get(t)?.digest ?? '')).toBe(true);
    expect(await retentionEvents(reg.pool)).toEqual(['t3', 't2', 't1'].map((t) => ({ kind: 'tag.delete', repository: 'keep/last', tag: t, digest: images.get(t)?.digest })));
    expect(await refcountDrift(reg.pool)).toEqual([]);
    expect((await runRetention(reg.pool, { dryRun: true }))?.items).toEqual([]);
  });

  test('a tag moved to a new manifest counts as pushed now', async () => {
    await pushTags('keep/moved', ['a', 'b', 'c']);
    await pushImage(reg.app, 'keep/moved', 'a-again', 'a');
    await policy('keep/moved', { keepLast: 2 });
    expect((await dryThenReal()).map((i) => i.tag)).toEqual(['b']);
    expect(await tagsOf(reg.app, 'keep/moved')).toEqual(['a', 'c']);
  });

  test('keep-regex (whole tag) and immutable tags are kept beyond N; keep-last 0 keeps only those', async () => {
    await pushTags('rx/app', ['v1', 'v2', 'v2-rc', 'dev-1', 'pinned', 'latest']);
    await addImmutableRule(reg.pool, 'rx/*', 'pin.*');
    await policy('rx/*', { keepLast: 1, keepRegex: 'v[0-9]+' });
    const items = await dryThenReal();
    expect(items.map((i) => i.tag)).toEqual(['dev-1', 'v2-rc']);
    expect(items[0]?.reason).toBe('policy "rx/*": older than the 1 most recently pushed tags and not matching /v[0-9]+/');
    expect(await tagsOf(reg.app, 'rx/app')).toEqual(['latest', 'pinned', 'v1', 'v2']);
    await policy('rx/*', { keepLast: 0, keepRegex: 'v[0-9]+' });
    expect((await dryThenReal()).map((i) => i.tag)).toEqual(['latest']);
    expect(await tagsOf(reg.app, 'rx/app')).toEqual(['pinned', 'v1', 'v2']);
  });
});

describe('when several policies match, the most specific glob alone applies', () => {
  test('team/app (exact) beats team/* beats team/** beats **', async () => {
    for (const r of ['team/app', 'team/web', 'team/x/deep', 'other/y']) await pushTags(r, ['1', '2', '3', '4', '5']);
    await policy('**', { keepLast: 4 });
    await policy('team/**', { keepLast: 3 });
    await policy('team/*', { keepLast: 2 });
    await policy('team/app', { keepLast: 1 });
    const items = await dryThenReal();
    const count = (r: string) => items.filter((i) => i.repository === r).length;
    expect([count('team/app'), count('team/web'), count('team/x/deep'), count('other/y')]).toEqual([4, 3, 2, 1]);
    expect(new Set(items.filter((i) => i.repository === 'team/web').map((i) => i.reason))).toEqual(
      new Set(['policy "team/*": older than the 2 most recently pushed tags']),
    );
    // a more specific policy without a tag rule still governs alone: nothing more goes from team/app
    await policy('team/app', { untagged: 999_999 });
    await pushTags('team/app', ['6', '7']);
    expect(await dryThenReal()).toEqual([]);
  });

  test('a glob governs the names it matches, not every name starting with its literal prefix', async () => {
    for (const r of ['pre/app', 'pre/apple', 'pre/app/sub', 'pre/abc', 'pre/ab/c']) await pushTags(r, ['1', '2']);
    await policy('pre/app', { keepLast: 1 });
    await policy('pre/a?c', { keepLast: 0 });
    const items = await dryThenReal();
    const count = (r: string) => items.filter((i) => i.repository === r).length;
    expect(['pre/app', 'pre/apple', 'pre/app/sub', 'pre/abc', 'pre/ab/c'].map(count)).toEqual([1, 0, 0, 2, 0]);
  });
});

describe('untagged manifests after a delay', () => {
  test('deleted once unreferenced for the delay, counted from when they lost their last tag', async () => {
    const images = await pushTags('un/app', ['old', 'keep']);
    await policy('un/*', { untagged: 3600 });
    const byDigest = await pushImage(reg.app, 'un/app', 'by-digest', null);
    // pushed long ago, untagged just now: not yet
    await reg.pool.query(sql.unsafe`UPDATE manifests SET created_at = now() - interval '30 days'`);
    expect((await request(reg.app).delete('/v2/un/app/manifests/old')).status).toBe(202);
    await ageUnreferenced(reg.pool, byDigest.digest, 3601);
    const items = await dryThenReal();
    expect(items).toEqual([{ repository: 'un/app', kind: 'manifest', digest: byDigest.digest, reason: 'policy "un/*": untagged and unreferenced for at least 3600s' }]);
    expect(await manifestExists(reg.app, 'un/app', byDigest.digest)).toBe(false);
    expect(await manifestExists(reg.app, 'un/app', images.get('old')?.digest ?? '')).toBe(true);
    await ageUnreferenced(reg.pool, images.get('old')?.digest ?? '', 3601);
    expect((await dryThenReal()).map((i) => i.digest)).toEqual([images.get('old')?.digest]);
    expect(await manifestExists(reg.app, 'un/app', images.get('keep')?.digest ?? '')).toBe(true);
    expect(await retentionEvents(reg.pool)).toEqual(expect.arrayContaining([{ kind: 'manifest.delete', repository: 'un/app', tag: null, digest: byDigest.digest }]));
  });

  test('only rows go: the blobs stay linked (GC reviews them), with exact refcounts', async () => {
    await pushLayers(reg.app, 'un/blobs');
    const m = await pushImage(reg.app, 'un/blobs', 'only', null);
    await policy('un/blobs', { untagged: 0 });
    const blobs = await countRows(reg.pool, 'blobs');
    const links = await countRows(reg.pool, 'repository_blobs');
    expect((await dryThenReal()).map((i) => i.digest)).toEqual([m.digest]);
    expect(await countRows(reg.pool, 'blobs')).toBe(blobs);
    expect(await countRows(reg.pool, 'repository_blobs')).toBe(links);
    const unreferenced = await reg.pool.anyFirst(sql.type(z.object({ refcount: z.number() }))`
      SELECT rb.refcount FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id WHERE r.name = 'un/blobs'`);
    expect(unreferenced).toEqual([0, 0]);
  });

  test('a manifest an index lists stays; the untagged index goes first, its children in the next pass', async () => {
    await pushLayers(reg.app, 'un/index');
    const child = await pushImage(reg.app, 'un/index', 'child', null);
    const index = imageIndex([{ manifest: child }]);
    await pushManifest(reg.app, 'un/index', index.digest, index, 'application/vnd.oci.image.index.v1+json');
    const tagged = imageIndex([{ manifest: child, platform: { architecture: 'arm64', os: 'linux' } }]);
    await pushManifest(reg.app, 'un/index', 'multi', tagged, 'application/vnd.oci.image.index.v1+json');
    await policy('un/index', { untagged: 0 });
    expect((await dryThenReal()).map((i) => i.digest)).toEqual([index.digest]);
    expect(await manifestExists(reg.app, 'un/index', child.digest)).toBe(true);
    expect(await dryThenReal()).toEqual([]); // still listed by the tagged index
    expect((await request(reg.app).delete('/v2/un/index/manifests/multi')).status).toBe(202);
    expect((await dryThenReal()).map((i) => i.digest)).toEqual([tagged.digest]);
    expect((await dryThenReal()).map((i) => i.digest)).toEqual([child.digest]);
    expect(await countRows(reg.pool, 'manifests')).toBeGreaterThan(0);
  });

  test('a referrer whose subject is in the repository stays; one whose subject is gone goes', async () => {
    const images = await pushTags('un/refs', ['base']);
    const base = images.get('base') as Blob;
    const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: base.digest, size: base.size };
    const sig = await pushImage(reg.app, 'un/refs', 'sig', null, { subject });
    const orphan = await pushImage(reg.app, 'un/refs', 'orphan', null, { subject: { ...subject, digest: `sha256:${'0'.repeat(64)}` } });
    await policy('un/refs', { untagged: 0 });
    expect((await dryThenReal()).map((i) => i.digest)).toEqual([orphan.digest]);
    expect(await manifestExists(reg.app, 'un/refs', sig.digest)).toBe(true);
    expect((await request(reg.app).delete(`/v2/un/refs/manifests/${base.digest}`)).status).toBe(202);
    expect((await dryThenReal()).map((i) => i.digest)).toEqual([sig.digest]);
  });

  test('tags deleted by a pass leave their manifests for a later pass (the dry run agrees)', async () => {
    const images = await pushTags('un/both', ['a', 'b']);
    await policy('un/both', { keepLast: 1, untagged: 0 });
    expect((await dryThenReal()).map((i) => i.tag ?? i.digest)).toEqual(['a']);
    expect((await dryThenReal()).map((i) => i.tag ?? i.digest)).toEqual([images.get('a')?.digest]);
    expect(await tagsOf(reg.app, 'un/both')).toEqual(['b']);
  });
});

describe('one pass at a time', () => {
  test('a real run while another process holds the pass lock does nothing and says so', async () => {
    await pushTags('lock/app', ['1', '2']);
    await policy('lock/app', { keepLast: 1 });
    await reg.pool.connect(async (other) => {
      await other.query(sql.unsafe`SELECT pg_advisory_lock(${0x72657465})`);
      expect(await runRetention(reg.pool, { dryRun: false })).toBeNull();
      expect((await runRetention(reg.pool, { dryRun: true }))?.items.length).toBe(1);
      await other.query(sql.unsafe`SELECT pg_advisory_unlock(${0x72657465})`);
    });
    expect((await runRetention(reg.pool, { dryRun: false }))?.items.length).toBe(1);
  });

  test('concurrent passes, pushes and deletes keep refcounts exact', async () => {
    await pushTags('race/app', ['t0']);
    await policy('race/app', { keepLast: 2, untagged: 0 });
    const work: Promise<unknown>[] = [];
    for (let i = 1; i <= 12; i++) {
      work.push(pushImage(reg.app, 'race/app', `r${i}`, `t${i}`));
      if (i % 3 === 0) work.push(runRetention(reg.pool, { dryRun: false }));
    }
    await Promise.all(work);
    await runRetention(reg.pool, { dryRun: false });
    await runRetention(reg.pool, { dryRun: false });
    expect(await refcountDrift(reg.pool)).toEqual([]);
    expect((await tagsOf(reg.app, 'race/app')).length).toBe(2);
    expect(await runRetention(reg.pool, { dryRun: true })).toEqual({ dryRun: true, items: [] });
  });
});
