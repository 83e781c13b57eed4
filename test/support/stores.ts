// The storage drivers under test, each with a way to see everything it holds, so
// tests can assert that nothing was left behind. S3 stores share the run's test
// bucket, each under its own random prefix.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { DeleteObjectsCommand, ListMultipartUploadsCommand, ListObjectsV2Command, AbortMultipartUploadCommand, type S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { FsBlobStore, type FsStoreOptions } from '../../src/storage/fs.ts';
import { s3BlobStore, type S3StorageConfig } from '../../src/storage/s3/factory.ts';
import { createS3Client } from '../../src/storage/s3/client.ts';
import { S3BlobStore, type S3StoreOptions } from '../../src/storage/s3/store.ts';
import type { TestS3 } from './s3-server.ts';

export interface StoreUnderTest {
  store: BlobStore;
  /** Everything the store holds: object paths and (S3) open multipart uploads. */
  contents(): Promise<string[]>;
  /** Removes one path contents() listed (for things no store method removes, e.g. quarantined objects). */
  remove(path: string): Promise<void>;
  /** Removes everything the store holds. */
  destroy(): Promise<void>;
}

export function testS3(): TestS3 | null {
  return inject('s3');
}

export function requireS3(): TestS3 {
  const s3 = testS3();
  if (!s3) throw new Error(`no S3 server in this run (${inject('s3Note')})`);
  return s3;
}

/** Which driver HTTP-level tests use: BOLLARD_TEST_STORAGE=s3 (set by the vitest "s3" project) or fs. */
export function testStorageKind(): 'fs' | 's3' {
  return process.env.BOLLARD_TEST_STORAGE === 's3' ? 's3' : 'fs';
}

export async function fsStore(options: FsStoreOptions = {}): Promise<StoreUnderTest & { root: string; store: FsBlobStore }> {
  const root = await mkdtemp(join(tmpdir(), 'bollard-test-store-'));
  const store = new FsBlobStore(root, options);
  await store.init();
  return {
    root,
    store,
    contents: async () => (await filesUnder(root)).map((f) => relative(root, f)),
    remove: (path) => rm(join(root, path)),
    destroy: () => rm(root, { recursive: true, force: true }),
  };
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

export function newPrefix(label: string): string {
  return `${label}-${randomBytes(5).toString('hex')}/`;
}

export function s3StorageConfig(s3: TestS3, prefix: string, overrides: Partial<S3StorageConfig> = {}): S3StorageConfig {
  return {
    kind: 's3',
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    prefix,
    redirect: false,
    partSize: 5 * 1024 * 1024,
    uploadConcurrency: 4,
    copyObjectMax: 5 * 1024 * 1024 * 1024,
    ...overrides,
  };
}

/** An S3 store as `bollard serve` builds it, under a fresh prefix. */
export function s3Store(label: string, overrides: Partial<S3StorageConfig> = {}): StoreUnderTest & { prefix: string } {
  const s3 = requireS3();
  const prefix = newPrefix(label);
  const store = s3BlobStore(s3StorageConfig(s3, prefix, overrides), s3);
  return { prefix, store, ...prefixContents(s3, prefix) };
}

/** An S3 store built with explicit driver options (small parts and copies, to exercise multipart paths). */
export function s3StoreWith(label: string, options: Partial<S3StoreOptions>, client?: S3Client): StoreUnderTest {
  const s3 = requireS3();
  const prefix = newPrefix(label);
  const store = new S3BlobStore(client ?? testS3Client(s3), {
    bucket: s3.bucket,
    prefix,
    part: { partSize: 5 * 1024 * 1024, concurrency: 3 },
    copy: { copyObjectMax: 5 * 1024 * 1024 * 1024, copyPartSize: 5 * 1024 * 1024, concurrency: 4 },
    presignSeconds: null,
    ...options,
  });
  return { store, ...prefixContents(s3, prefix) };
}

export function testS3Client(s3: TestS3, extra: { endpoint?: string; idleTimeoutMs?: number; connectTimeoutMs?: number; maxAttempts?: number } = {}): S3Client {
  return createS3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: s3, ...extra });
}

/** Listing and emptying everything under a prefix of the test bucket. */
export function prefixContents(s3: TestS3, prefix: string) {
  const client = testS3Client(s3);
  const Bucket = s3.bucket;
  const contents = async (): Promise<string[]> => {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken: token }));
      out.push(...(page.Contents ?? []).map((o) => (o.Key ?? '').slice(prefix.length)));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: prefix }));
    out.push(...(uploads.Uploads ?? []).map((u) => `multipart upload: ${(u.Key ?? '').slice(prefix.length)}`));
    return out.sort();
  };
  const destroy = async (): Promise<void> => {
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: prefix }));
    for (const u of uploads.Uploads ?? []) await client.send(new AbortMultipartUploadCommand({ Bucket, Key: u.Key, UploadId: u.UploadId }));
    for (;;) {
      const page = await client.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key as string }));
      if (keys.length === 0) break;
      await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys, Quiet: true } }));
    }
  };
  const remove = async (path: string): Promise<void> => {
    await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: prefix + path }], Quiet: true } }));
  };
  return { contents, remove, destroy };
}
