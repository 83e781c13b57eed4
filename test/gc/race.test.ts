// Pushes, tag moves and deletes from many clients at once while two collectors
// run with a zero review delay. Afterwards every committed manifest is fully
// pullable, refcounts equal a recount, and storage holds exactly the referenced
// bytes. No request may fail with a 5xx (a deadlock would surface as one).
import { sql } from 'slonik';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { collectGarbage } from '../../src/registry/gc/collector.ts';
import { emptyConfig, imageIndex, imageManifest, OCI_INDEX, OCI_MANIFEST, randomBlob, type Blob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { refcountDrift } from '../support/rows.ts';
import { expectPullable, expectStorageMatchesRows, NOW } from './support.ts';

let reg: TestRegistry;
beforeEach(async () => {
  reg = await createTestRegistry();
});
afterEach(async () => {
  await reg.close();
});

const REPOS = ['race/a', 'race/b', 'race/c'];
const TAGS = ['t0', 't1', 't2', 't3'];
const shared = Array.from({ length: 6 }, () => randomBlob(3000));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T;

describe('GC under concurrent writes', () => {
  it('keeps every committed manifest pullable and collects every unreferenced byte', async () => {
    const policy = { ...NOW, untagged: 'delete' as const };
    const statuses: string[] = [];
    const pushed: Array<{ repo: string; digest: string }> = [];
    const note = (what: string, res: { status: number; body: unknown }) => {
      statuses.push(`${what} ${res.status}`);
      if (res.status >= 500) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
      return res;
    };

    const pushBlob = async (repo: string, b: Blob) =>
      note('blob', await request(reg.app).post(`/v2/${repo}/blobs/uploads/?digest=${b.digest}`).set('Content-Type', 'application/octet-stream').send(b.data));
    const putManifest = async (repo: string, ref: string, m: Blob, type: string) =>
      note('manifest', await request(reg.app).put(`/v2/${repo}/manifests/${ref}`).set('Content-Type', type).send(m.data.toString('utf8')));

    /** Push an image; the collector may take a layer between the blob and the manifest push, so retry. */
    const pushImage = async (repo: string, tag: string): Promise<Blob | null> => {
      const layers = [pick(shared), randomBlob(2000)];
      const m = imageManifest(emptyConfig, layers);
      for (let attempt = 0; attempt < 5; attempt++) {
        for (const b of [emptyConfig, ...layers]) await pushBlob(repo, b);
        const res = await putManifest(repo, tag, m, OCI_MANIFEST);
        if (res.status === 201) {
          pushed.push({ repo, digest: m.digest });
          return m;
        }
        expect((res.body as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('MANIFEST_BLOB_UNKNOWN');
      }
      return null;
    };

    const client = async (n: number) => {
      for (let i = 0; i < 12; i++) {
        const repo = pick(REPOS);
        const roll = (n + i) % 6;
        if (roll <= 2) await pushImage(repo, pick(TAGS));
        else if (roll === 3) note('delete tag', await request(reg.app).delete(`/v2/${repo}/manifests/${pick(TAGS)}`));
        else if (roll === 4) {
          const target = pick(pushed.filter((p) => p.repo === repo).concat({ repo, digest: emptyConfig.digest }));
          note('delete manifest', await request(reg.app).delete(`/v2/${repo}/manifests/${target.digest}`));
        } else {
          const a = await pushImage(repo, `idx-part-${n}-${i}`);
          const b = await pushImage(repo, `idx-part2-${n}-${i}`);
          if (a && b) {
            const index = imageIndex([{ manifest: a }, { manifest: b }]);
            const res = await putManifest(repo, pick(TAGS), index, OCI_INDEX);
            if (res.status === 201) pushed.push({ repo, digest: index.digest });
          }
          note('untag', await request(reg.app).delete(`/v2/${repo}/manifests/idx-part-${n}-${i}`));
        }
      }
    };

    let writing = true;
    const collector = async () => {
      let passes = 0;
      while (writing) {
        await collectGarbage(reg, policy);
        passes += 1;
      }
      return passes;
    };
    const collectors = [collector(), collector()];
    await Promise.all(Array.from({ length: 6 }, (_, n) => client(n)));
    writing = false;
    const passes = await Promise.all(collectors);
    expect(passes.every((p) => p > 0)).toBe(true);
    expect(statuses.filter((s) => s.startsWith('manifest 201')).length).toBeGreaterThan(10);

    // quiesce: everything unreferenced now goes
    for (let i = 0; i < 3; i++) await collectGarbage(reg, policy);

    // every tag and every manifest still stored is whole
    const manifests = await reg.pool.any(sql.type(z.object({ repo: z.string(), digest: z.string(), content: z.instanceof(Buffer) }))`
      SELECT r.name AS repo, m.digest, m.content FROM manifests m JOIN repositories r ON r.id = m.repository_id`);
    expect(manifests.length).toBeGreaterThan(0);
    for (const m of manifests) {
      expect((await request(reg.app).get(`/v2/${m.repo}/manifests/${m.digest}`)).status).toBe(200);
      const doc = JSON.parse(m.content.toString('utf8')) as { config?: { digest: string }; layers?: Array<{ digest: string }>; manifests?: Array<{ digest: string }> };
      for (const d of [doc.config, ...(doc.layers ?? [])]) if (d) await expectPullable(reg.app, m.repo, d.digest);
      for (const child of doc.manifests ?? []) expect((await request(reg.app).head(`/v2/${m.repo}/manifests/${child.digest}`)).status).toBe(200);
    }
    // under the delete policy only tagged manifests and their children remain
    const untagged = await reg.pool.anyFirst(sql.type(z.object({ id: z.number() }))`SELECT id FROM manifests WHERE refcount = 0`);
    expect(untagged).toEqual([]);
    const dangling = await reg.pool.anyFirst(sql.type(z.object({ n: z.number() }))`
      SELECT count(*)::int8 AS n FROM repository_blobs WHERE refcount = 0`);
    expect(dangling).toEqual([0]);
    expect(await refcountDrift(reg.pool)).toEqual([]);
    await expectStorageMatchesRows(reg);
  });
});
