// Builds the configured BlobStore and checks it can be used before the registry
// starts serving. The filesystem driver is the default.
import { join } from 'node:path';
import { ConfigError, type Config, type StorageConfig } from '../config/index.ts';
import type { BlobStore } from './blob-store.ts';
import { FsBlobStore } from './fs.ts';
import { createS3Client } from './s3/client.ts';
import { S3BlobStore } from './s3/store.ts';

/** Presigned blob URLs live this long; a pull that starts later asks the registry again. */
const REDIRECT_SECONDS = 20 * 60;

export async function createBlobStore(config: Pick<Config, 'dataDir' | 'storage'>): Promise<BlobStore> {
  if (config.storage.kind === 'fs') {
    const store = new FsBlobStore(join(config.dataDir, 'storage'));
    await store.init();
    return store;
  }
  const store = s3BlobStore(config.storage);
  try {
    await store.init();
  } catch (err) {
    // Named as a configuration problem so `bollard serve` stops with just this line.
    throw new ConfigError(`storage check failed: ${(err as Error).message} (endpoint ${config.storage.endpoint ?? 'AWS default'})`);
  }
  return store;
}

export type S3StorageConfig = Extract<StorageConfig, { kind: 's3' }>;

/** Credentials are taken from the SDK's default chain unless given. */
export function s3BlobStore(s: S3StorageConfig, credentials?: { accessKeyId: string; secretAccessKey: string }): S3BlobStore {
  const client = createS3Client({ endpoint: s.endpoint, region: s.region, forcePathStyle: s.forcePathStyle, ...(credentials ? { credentials } : {}) });
  return new S3BlobStore(client, {
    bucket: s.bucket,
    prefix: s.prefix,
    part: { partSize: s.partSize, concurrency: s.uploadConcurrency },
    copy: { copyObjectMax: s.copyObjectMax, copyPartSize: 64 * 1024 * 1024, concurrency: 8 },
    presignSeconds: s.redirect ? REDIRECT_SECONDS : null,
  });
}
