// What crashes and abandoned clients leave behind, swept: objects no row names,
// staged bytes no session names, sessions idle past their expiry (with their S3
// multipart uploads, a crashed writer's included, when the run's storage is S3).
import { Readable } from 'node:stream';
import { CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { sql } from 'slonik';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBlake3 } from '../../src/digest/blake3.ts';
import { expireSessions, sweepObjects, sweepUploads } from '../../src/registry/gc/sweep.ts';
import { blobKey } from '../../src/storage/blob-store.ts';
import { pushBlob } from '../support/client.ts';
import { randomBlob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { countRows } from '../support/rows.ts';
import { requireS3, testS3Client } from '../support/stores.ts';
import { expectPullable, expectStorageMatchesRows, storedKeys } from './support.ts';

let reg: TestRegistry;
beforeEach(async () => {
  reg = await createTestRegistry();
});
afterEach(async () => {
  await reg.close();
});

/** A crash between writing the bytes and the commit: an object with no row. */
async function orphanObject(size = 5000): Promise<string> {
  const data = randomBlob(size).data;
  const h = createBlake3();
  h.update(data);
  const key = blobKey(h.digest());
  const state = await reg.store.startUpload(crypto.randomUUID());
  await reg.store.completeUpload(await reg.store.appendUpload(state, Readable.from([data])), key);
  return key;
}

describe('storage sweep', () => {
  it('removes objects no row names once older than the grace period, and nothing else', async () => {
    const kept = randomBlob();
    await pushBlob(reg.app, 'app', kept);
    const orphan = await orphanObject();
    expect(await storedKeys(reg.store)).toContain(orphan);

    expect(await sweepObjects(reg, 3600)).toEqual({ count: 0, bytes: 0 }); // too young: maybe a commit in flight
    expect(await storedKeys(reg.store)).toContain(orphan);

    expect(await sweepObjects(reg, 0)).toEqual({ count: 1, bytes: 5000 });
    await expectStorageMatchesRows(reg);
    await expectPullable(reg.app, 'app', kept.digest);
  });

  it('leaves an orphan an upload has pinned (it is about to commit a row for it)', async () => {
    const orphan = await orphanObject();
    await reg.pool.query(sql.unsafe`
      INSERT INTO blob_pins (token, blake3, expires_at) VALUES (gen_random_uuid(), ${sql.binary(Buffer.from(orphan, 'hex'))}, now() + interval '1 hour')`);
    expect((await sweepObjects(reg, 0)).count).toBe(0);
    expect(await storedKeys(reg.store)).toContain(orphan);
  });

  it('removes staged bytes no session names (a single-request upload that crashed)', async () => {
    const state = await reg.store.startUpload(crypto.randomUUID());
    await reg.store.appendUpload(state, Readable.from([Buffer.alloc(1000, 1)]));
    const session = await request(reg.app).post('/v2/app/blobs/uploads/');
    const live = (session.headers['location'] as string).split('/').pop() as string;
    await request(reg.app).patch(`/v2/app/blobs/uploads/${live}`).set('Content-Type', 'application/octet-stream').send(Buffer.alloc(10));

    expect(await sweepUploads(reg, 3600)).toBe(0);
    expect(await sweepUploads(reg, 0)).toBe(1);
    expect(await storedKeys(reg.store, 'uploads')).toEqual([live]);
    expect(await reg.staging(state.uploadId)).toEqual([]);
  });

  it('expires sessions idle past the expiry with their staged bytes; active ones continue', async () => {
    const post = async () => {
      const res = await request(reg.app).post('/v2/app/blobs/uploads/');
      const url = res.headers['location'] as string;
      await request(reg.app).patch(url).set('Content-Type', 'application/octet-stream').send(Buffer.alloc(6 * 1024 * 1024, 7));
      return url;
    };
    const idle = await post();
    const active = await post();
    const idleId = idle.split('/').pop() as string;
    // idle for 25 hours: the lease its last PATCH kept was given back long ago
    await reg.pool.query(sql.unsafe`
      UPDATE upload_sessions SET updated_at = now() - interval '25 hours', lease_token = NULL, lease_until = NULL WHERE id = ${idleId}::uuid`);
    if (reg.s3Prefix !== null) {
      // on S3, also what a writer that crashed mid-append leaves: a multipart upload in progress
      const s3 = requireS3();
      const client = testS3Client(s3);
      const Key = `${reg.s3Prefix}uploads/${idleId}/6291456.crashed`;
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key }));
      await client.send(new UploadPartCommand({ Bucket: s3.bucket, Key, UploadId, PartNumber: 1, Body: Buffer.alloc(5 * 1024 * 1024) }));
      client.destroy();
      expect(await reg.staging(idleId)).toContain(`multipart upload: uploads/${idleId}/6291456.crashed`);
    }
    expect((await reg.staging(idleId)).length).toBeGreaterThan(0);

    expect(await expireSessions(reg, { sessionIdle: 24 * 3600, resumeWindow: 24 * 3600 })).toBe(1);
    expect(await countRows(reg.pool, 'upload_sessions')).toBe(1);
    expect(await reg.staging(idleId)).toEqual([]);
    const gone = await request(reg.app).get(idle);
    expect(gone.status).toBe(404);
    expect(gone.body.errors[0].code).toBe('BLOB_UPLOAD_UNKNOWN');

    const finish = await request(reg.app).put(`${active}${active.includes('?') ? '&' : '?'}digest=sha256:${'0'.repeat(64)}`).send();
    expect(finish.body.errors[0].code).toBe('DIGEST_INVALID'); // still known: the wrong digest is what fails it
  });
});
