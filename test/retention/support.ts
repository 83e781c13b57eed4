// Helpers of the retention and immutable-tag tests: distinct images pushed
// through the API, and the rows a pass leaves.
import type { Express } from 'express';
import request from 'supertest';
import { sql, type DatabasePool } from 'slonik';
import { expect } from 'vitest';
import { z } from 'zod';
import { runRetention } from '../../src/registry/retention/run.ts';
import { refcountDrift } from '../support/rows.ts';
import { pushBlob, pushManifest } from '../support/client.ts';
import { imageManifest, OCI_MANIFEST, randomBlob, type Blob } from '../support/fixtures.ts';

export const config = randomBlob(100);
export const layer = randomBlob(500);

export async function pushLayers(app: Express, repo: string): Promise<void> {
  for (const b of [config, layer]) await pushBlob(app, repo, b);
}

/** A distinct image manifest (told apart by an annotation), pushed by tag or by digest. */
export async function pushImage(app: Express, repo: string, label: string, tag: string | null = label, extra: Record<string, unknown> = {}): Promise<Blob> {
  const m = imageManifest(config, [layer], { annotations: { label }, ...extra });
  await pushManifest(app, repo, tag ?? m.digest, m, OCI_MANIFEST);
  return m;
}

export async function tagsOf(app: Express, repo: string): Promise<string[]> {
  const res = await request(app).get(`/v2/${repo}/tags/list`);
  return res.status === 200 ? ((res.body as { tags: string[] | null }).tags ?? []) : [];
}

export async function manifestExists(app: Express, repo: string, digest: string): Promise<boolean> {
  return (await request(app).head(`/v2/${repo}/manifests/${digest}`)).status === 200;
}

/** Pretends the manifest lost its last reference that many seconds ago. */
export async function ageUnreferenced(pool: DatabasePool, digest: string, seconds: number): Promise<void> {
  await pool.query(sql.unsafe`
    UPDATE manifests SET unreferenced_since = now() - ${seconds} * interval '1 second'
    WHERE digest = ${digest} AND unreferenced_since IS NOT NULL`);
}

export async function retentionEvents(pool: DatabasePool) {
  return pool.any(sql.type(z.object({ kind: z.string(), repository: z.string(), tag: z.string().nullable(), digest: z.string().nullable() }))`
    SELECT kind, repository, tag, digest FROM events WHERE actor = 'retention' ORDER BY id`);
}

/** A dry run, then a real run: both must list the same items, and refcounts stay exact. */
export async function dryThenReal(pool: DatabasePool) {
  const dry = await runRetention(pool, { dryRun: true });
  const real = await runRetention(pool, { dryRun: false });
  expect(real?.items).toEqual(dry?.items);
  expect(await refcountDrift(pool)).toEqual([]);
  return real?.items ?? [];
}
