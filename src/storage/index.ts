// Builds the configured BlobStore and checks it can be used before the registry
// starts serving. The filesystem driver is the default.
import { join } from 'node:path';
import { ConfigError } from '../shared/config-error.ts';
import type { StorageConfig } from './options.ts';
import type { BlobStore } from './blob-store.ts';
import { FsBlobStore } from './fs.ts';
import type { WritePathStatus } from './write-path.ts';

export type { S3StorageConfig } from './s3/factory.ts';

export async function createBlobStore(
  config: { dataDir: string; storage: StorageConfig },
  onWritePathSwitch?: (status: Readonly<WritePathStatus>) => void,
): Promise<BlobStore> {
  if (config.storage.kind === 'fs') {
    const store = new FsBlobStore(join(config.dataDir, 'storage'), { directIo: config.storage.directIo, onWritePathSwitch });
    await store.init();
    return store;
  }
  // loaded only when used: the AWS SDK costs ~25 MB of RSS in a process that never needs it
  const { s3BlobStore } = await import('./s3/factory.ts');
  const store = s3BlobStore(config.storage, config.storage.credentials);
  try {
    await store.init();
  } catch (err) {
    // Named as a configuration problem so `bollard serve` stops with just this line.
    throw new ConfigError(`storage check failed: ${(err as Error).message} (endpoint ${config.storage.endpoint ?? 'AWS default'})`);
  }
  return store;
}

