import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { addImmutableRule } from '../../src/db/retention.ts';
import { expectOciError } from '../support/client.ts';
import { imageManifest, OCI_MANIFEST } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { countRows, refcountDrift } from '../support/rows.ts';
import { config, layer, pushImage, pushLayers, tagsOf } from './support.ts';

let reg: TestRegistry;
const repo = 'prod/app';
beforeAll(async () => {
  reg = await createTestRegistry();
  await addImmutableRule(reg.pool, 'prod/*', 'v[0-9]+(\\.[0-9]+)*');
  for (const r of [repo, 'dev/app', 'prod/app/sub']) await pushLayers(reg.app, r);
});
afterAll(() => reg.close());

const put = (ref: string, body: Buffer, r = repo) =>
  request(reg.app).put(`/v2/${r}/manifests/${ref}`).set('Content-Type', OCI_MANIFEST).send(body.toString('utf8'));
const digestOf = async (ref: string, r = repo): Promise<string> => String((await request(reg.app).head(`/v2/${r}/manifests/${ref}`)).headers['docker-content-digest']);

describe('immutable tags', () => {
  test('creating an immutable tag is allowed; re-putting the same digest is not a move', async () => {
    const m = await pushImage(reg.app, repo, 'one', 'v1.0');
    const again = await put('v1.0', m.data);
    expect(again.status).toBe(201);
    expect(await digestOf('v1.0')).toBe(m.digest);
  });

  test('moving it to another manifest → 403 DENIED naming the rule; the tag stays', async () => {
    const before = await digestOf('v1.0');
    const other = await pushImage(reg.app, repo, 'two', null);
    const events = await countRows(reg.pool, 'events');
    const res = await put('v1.0', other.data);
    expectOciError(res, 403, 'DENIED');
    const detail = String((res.body as { errors: Array<{ detail: unknown }> }).errors[0]?.detail);
    expect(detail).toContain('tag "v1.0" of prod/app');
    expect(detail).toMatch(/immutable rule #\d+ \(repositories "prod\/\*", tags \/v\[0-9\]\+/);
    expect(detail).toContain('cannot be moved');
    expect(await digestOf('v1.0')).toBe(before);
    expect(await countRows(reg.pool, 'events')).toBe(events);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('a new manifest pushed by an immutable tag is refused as a whole: no manifest row is left', async () => {
    const manifests = await countRows(reg.pool, 'manifests');
    const fresh = imageManifest(config, [layer], { annotations: { label: 'fresh' } });
    expectOciError(await put('v1.0', fresh.data), 403, 'DENIED');
    expect(await countRows(reg.pool, 'manifests')).toBe(manifests);
    expect((await request(reg.app).head(`/v2/${repo}/manifests/${fresh.digest}`)).status).toBe(404);
  });

  test('DELETE of the tag → 403; DELETE of its manifest by digest → 403; both stay', async () => {
    const d = await digestOf('v1.0');
    const byTag = await request(reg.app).delete(`/v2/${repo}/manifests/v1.0`);
    expectOciError(byTag, 403, 'DENIED');
    expect(JSON.stringify(byTag.body)).toContain('cannot be deleted');
    const byDigest = await request(reg.app).delete(`/v2/${repo}/manifests/${d}`);
    expectOciError(byDigest, 403, 'DENIED');
    expect(JSON.stringify(byDigest.body)).toContain('carries tag \\"v1.0\\"');
    expect(await tagsOf(reg.app, repo)).toContain('v1.0');
    expect(await digestOf(d)).toBe(d);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('tags the pattern does not match move and delete freely, also on the immutable manifest', async () => {
    const d = await digestOf('v1.0');
    const a = await pushImage(reg.app, repo, 'a', 'latest');
    const b = await pushImage(reg.app, repo, 'b', 'latest');
    expect(await digestOf('latest')).toBe(b.digest);
    expect(a.digest).not.toBe(b.digest);
    expect((await request(reg.app).put(`/v2/${repo}/manifests/stable`).set('Content-Type', OCI_MANIFEST).send((await request(reg.app).get(`/v2/${repo}/manifests/${d}`)).text)).status).toBe(201);
    expect((await request(reg.app).delete(`/v2/${repo}/manifests/stable`)).status).toBe(202);
    expect((await request(reg.app).delete(`/v2/${repo}/manifests/latest`)).status).toBe(202);
    // "v1.0-rc" is not a whole match of the pattern
    await pushImage(reg.app, repo, 'c', 'v1.0-rc');
    await pushImage(reg.app, repo, 'd', 'v1.0-rc');
    expect((await request(reg.app).delete(`/v2/${repo}/manifests/v1.0-rc`)).status).toBe(202);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('repositories the glob does not match are not affected (* stays within one component)', async () => {
    for (const r of ['dev/app', 'prod/app/sub']) {
      await pushImage(reg.app, r, 'e', 'v2');
      await pushImage(reg.app, r, 'f', 'v2');
      expect((await request(reg.app).delete(`/v2/${r}/manifests/v2`)).status).toBe(202);
    }
  });

  test('once the rule is removed, the tag can be deleted', async () => {
    const { removeImmutableRule } = await import('../../src/db/retention.ts');
    expect(await removeImmutableRule(reg.pool, 'prod/*', 'v[0-9]+(\\.[0-9]+)*')).toBe(true);
    expect((await request(reg.app).delete(`/v2/${repo}/manifests/v1.0`)).status).toBe(202);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });

  test('concurrent pushes of different manifests to one new immutable tag: the tag ends on one of them, never moved', async () => {
    await addImmutableRule(reg.pool, 'prod/*', 'release');
    const ms = await Promise.all(['r1', 'r2', 'r3', 'r4'].map((l) => pushImage(reg.app, repo, l, null)));
    const results = await Promise.all(ms.map((m) => put('release', m.data)));
    const ok = results.filter((r) => r.status === 201);
    expect(ok.length).toBe(1);
    for (const r of results) if (r.status !== 201) expect(r.status).toBe(403);
    expect(await digestOf('release')).toBe(ok[0]?.headers['docker-content-digest']);
    expect(await refcountDrift(reg.pool)).toEqual([]);
  });
});
