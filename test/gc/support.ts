// Helpers for the collector's tests: run passes with a policy, and look at what
// is left in the database and in storage.
import type { Express } from 'express';
import { sql, type DatabasePool } from 'slonik';
import request from 'supertest';
import { expect } from 'vitest';
import { z } from 'zod';
import { collectGarbage, type GcReport } from '../../src/registry/gc/collector.ts';
import type { GcPolicy } from '../../src/shared/policies.ts';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { binaryParser } from '../support/client.ts';
import { sha256 } from '../support/fixtures.ts';
import type { TestRegistry } from '../support/registry.ts';

export const NOW: GcPolicy = { reviewDelay: 0, untagged: 'keep', orphanReferrers: true };

export function gc(reg: TestRegistry, policy: Partial<GcPolicy> = {}, dryRun = false): Promise<GcReport> {
  return collectGarbage({ pool: reg.pool, store: reg.store }, { ...NOW, ...policy }, { dryRun });
}

export async function storedKeys(store: BlobStore, area: 'objects' | 'uploads' = 'objects'): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(area)) keys.push(o.key);
  return keys.sort();
}

export async function blobKeys(pool: DatabasePool): Promise<string[]> {
  const rows = await pool.anyFirst(sql.type(z.object({ k: z.string() }))`SELECT encode(blake3, 'hex') AS k FROM blobs ORDER BY 1`);
  return [...rows];
}

/** Every blob row has its bytes, and storage holds nothing else. */
export async function expectStorageMatchesRows(reg: TestRegistry): Promise<void> {
  expect(await storedKeys(reg.store)).toEqual(await blobKeys(reg.pool));
}

export async function getBlob(app: Express, repo: string, digest: string) {
  return request(app).get(`/v2/${repo}/blobs/${digest}`).buffer(true).parse(binaryParser);
}

/** The blob reads back with its digest. */
export async function expectPullable(app: Express, repo: string, digest: string): Promise<void> {
  const res = await getBlob(app, repo, digest);
  expect(res.status, `${repo}@${digest}`).toBe(200);
  expect(sha256(res.body as Buffer)).toBe(digest);
}

export function targets(report: GcReport): string[] {
  return report.deleted.map((d) => `${d.target} ${d.repository ?? ''}@${d.digest}`).sort();
}

/** The BLAKE3 storage key of the blob with this SHA-256 digest. */
export async function storageKeyOf(pool: DatabasePool, digest: string): Promise<string> {
  return pool.oneFirst(sql.type(z.object({ k: z.string() }))`
    SELECT encode(blake3, 'hex') AS k FROM blobs WHERE sha256 = decode(${digest.replace('sha256:', '')}, 'hex')`);
}
