// Builds the S3 driver from its configuration (src/storage/index.ts loads this on demand).
import type { StorageConfig } from '../options.ts';
import { createCopyClient, createS3Client, type S3ClientOptions } from './client.ts';
import { S3BlobStore } from './store.ts';

/** Presigned blob URLs live this long; a pull that starts later asks the registry again. */
const REDIRECT_SECONDS = 20 * 60;

export type S3StorageConfig = Extract<StorageConfig, { kind: 's3' }>;

/** Credentials are taken from the SDK's default chain unless given. */
export function s3BlobStore(s: S3StorageConfig, credentials?: { accessKeyId: string; secretAccessKey: string }): S3BlobStore {
  const options: S3ClientOptions = { endpoint: s.endpoint, region: s.region, forcePathStyle: s.forcePathStyle, ...(credentials ? { credentials } : {}) };
  const client = createS3Client(options);
  return new S3BlobStore(client, {
    copyClient: createCopyClient(options, client),
    bucket: s.bucket,
    prefix: s.prefix,
    part: { partSize: s.partSize, concurrency: s.uploadConcurrency },
    copy: { copyObjectMax: s.copyObjectMax, copyPartSize: 64 * 1024 * 1024, concurrency: 8 },
    presignSeconds: s.redirect ? REDIRECT_SECONDS : null,
  });
}
