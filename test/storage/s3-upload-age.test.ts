// The S3 driver dates a staged upload by when bytes last reached it. A
// single-request upload streams into one multipart upload for as long as its body
// lasts; dated by its start, a long live upload would look abandoned to the sweep
// (src/registry/gc/sweep.ts) and be aborted under its writer.
import { CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, inject, test } from 'vitest';
import { s3StoreWith, testS3Client, type StoreUnderTest } from '../support/stores.ts';

const s3 = inject('s3');

describe.skipIf(!s3)('S3 staged upload age', () => {
  let sut: StoreUnderTest;
  afterAll(async () => {
    await sut?.destroy();
  });

  test('a multipart upload is as old as its newest part, not its start', async () => {
    sut = s3StoreWith('upload-age', {});
    const id = crypto.randomUUID();
    await sut.store.startUpload(id);
    const client = testS3Client(s3 as NonNullable<typeof s3>);
    const prefix = (sut.store as unknown as { o: { prefix: string } }).o.prefix;
    const Key = `${prefix}uploads/${id}/0.streaming`;
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: s3?.bucket, Key }));
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 2100));
    await client.send(new UploadPartCommand({ Bucket: s3?.bucket, Key, UploadId, PartNumber: 1, Body: Buffer.alloc(1024) }));
    client.destroy();
    const listed = [];
    for await (const u of sut.store.list('uploads')) listed.push(u);
    const mine = listed.find((u) => u.key === id);
    expect(mine).toBeDefined();
    // S3 dates in whole seconds: the part's date is at least a second after the start
    expect(mine!.modified.getTime()).toBeGreaterThanOrEqual(Math.floor(started / 1000) * 1000 + 1000);
  });
});
