// The integrity scrub: a damaged file on disk is found by its BLAKE3, moved to
// quarantine, reads as unknown (so clients push it again), and a push heals it.
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scrub } from '../../src/registry/scrub.ts';
import type { BlobKey } from '../../src/storage/blob-store.ts';
import { objectPath } from '../../src/storage/keys.ts';
import { pushBlob, pushManifest } from '../support/client.ts';
import { emptyConfig, imageManifest, OCI_MANIFEST, randomBlob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { expectPullable, getBlob, storageKeyOf } from './support.ts';

let reg: TestRegistry;
beforeEach(async () => {
  reg = await createTestRegistry();
});
afterEach(async () => {
  await reg.close();
});

describe.skipIf(process.env.BOLLARD_TEST_STORAGE === 's3')('scrub (files on disk)', () => {
  it('finds a damaged and a missing object, quarantines them, and a new push heals the blob', async () => {
    const good = randomBlob(3000);
    const damaged = randomBlob(3000);
    const missing = randomBlob(1000);
    for (const b of [emptyConfig, good, damaged, missing]) await pushBlob(reg.app, 'app', b);
    await pushManifest(reg.app, 'app', 'v1', imageManifest(emptyConfig, [good, damaged, missing]), OCI_MANIFEST);
    expect(await scrub(reg)).toMatchObject({ checked: 4, findings: [] });

    const root = reg.fsRoot as string;
    const damagedKey = await storageKeyOf(reg.pool, damaged.digest);
    const fileOf = (key: string) => join(root, objectPath(key as BlobKey));
    await writeFile(fileOf(damagedKey), Buffer.alloc(3000, 0x41)); // same size, other bytes: only the hash can tell
    await rm(fileOf(await storageKeyOf(reg.pool, missing.digest)));

    const report = await scrub(reg);
    expect(report.checked).toBe(4);
    expect(report.findings.map((f) => [f.digest, f.reason, f.quarantined]).sort()).toEqual(
      [[damaged.digest, 'mismatch', true], [missing.digest, 'missing', true]].sort(),
    );
    expect(await readdir(join(root, 'quarantine'))).toEqual([expect.stringMatching(new RegExp(`^${damagedKey}\\.\\d+$`))]);
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
