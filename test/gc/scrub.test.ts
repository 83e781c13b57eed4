// The integrity scrub: a damaged file on disk (or S3 object) is found by its BLAKE3, moved to
// quarantine, reads as unknown (so clients push it again), and a push heals it.
import { readdir, writeFile } from 'node:fs/promises';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { join } from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scrub } from '../../src/registry/gc/scrub.ts';
import type { BlobKey } from '../../src/storage/blob-store.ts';
import { objectPath } from '../../src/storage/keys.ts';
import { pushBlob, pushManifest } from '../support/client.ts';
import { emptyConfig, imageManifest, OCI_MANIFEST, randomBlob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { requireS3, testS3Client } from '../support/stores.ts';
import { expectPullable, getBlob, storageKeyOf } from './support.ts';

let reg: TestRegistry;
beforeEach(async () => {
  reg = await createTestRegistry();
});
afterEach(async () => {
  await reg.close();
});

/** Overwrites a stored object in place, behind the registry's back: a file on disk, or the S3 object. */
async function damage(key: string, bytes: Buffer): Promise<void> {
  if (reg.fsRoot !== null) return writeFile(join(reg.fsRoot, objectPath(key as BlobKey)), bytes);
  const s3 = requireS3();
  const client = testS3Client(s3);
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${reg.s3Prefix}${objectPath(key as BlobKey)}`, Body: bytes }));
  client.destroy();
}

/** What sits in the store's quarantine/ folder. */
async function quarantined(): Promise<string[]> {
  if (reg.fsRoot !== null) return readdir(join(reg.fsRoot, 'quarantine'));
  const s3 = requireS3();
  const client = testS3Client(s3);
  const page = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${reg.s3Prefix}quarantine/` }));
  client.destroy();
  return (page.Contents ?? []).map((o) => (o.Key ?? '').split('/').pop() as string);
}

describe('scrub', () => {
  it('finds a damaged and a missing object, quarantines them, and a new push heals the blob', async () => {
    const good = randomBlob(3000);
    const damaged = randomBlob(3000);
    const missing = randomBlob(1000);
    for (const b of [emptyConfig, good, damaged, missing]) await pushBlob(reg.app, 'app', b);
    await pushManifest(reg.app, 'app', 'v1', imageManifest(emptyConfig, [good, damaged, missing]), OCI_MANIFEST);
    expect(await scrub(reg)).toMatchObject({ checked: 4, findings: [] });

    const damagedKey = await storageKeyOf(reg.pool, damaged.digest);
    await damage(damagedKey, Buffer.alloc(3000, 0x41)); // same size, other bytes: only the hash can tell
    await reg.store.delete((await storageKeyOf(reg.pool, missing.digest)) as BlobKey);

    const report = await scrub(reg);
    expect(report.checked).toBe(4);
    expect(report.findings.map((f) => [f.digest, f.reason, f.quarantined]).sort()).toEqual(
      [[damaged.digest, 'mismatch', true], [missing.digest, 'missing', true]].sort(),
    );
    expect(await quarantined()).toEqual([expect.stringMatching(new RegExp(`^${damagedKey}\\.\\d+$`))]);
    expect((await getBlob(reg.app, 'app', damaged.digest)).status).toBe(404);
    expect((await request(reg.app).head(`/v2/app/blobs/${missing.digest}`)).status).toBe(404);
    await expectPullable(reg.app, 'app', good.digest);
    expect(await scrub(reg)).toMatchObject({ checked: 2, findings: [] }); // quarantined rows are not re-read

    await pushBlob(reg.app, 'app', damaged); // what a client does on seeing the 404
    await pushBlob(reg.app, 'app', missing);
    await expectPullable(reg.app, 'app', damaged.digest);
    await expectPullable(reg.app, 'app', missing.digest);
    expect(await scrub(reg)).toMatchObject({ checked: 4, findings: [] });
  });
});
