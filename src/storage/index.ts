// Builds the configured BlobStore. The filesystem driver is the default.
import { join } from 'node:path';
import type { Config } from '../config/index.ts';
import type { BlobStore } from './blob-store.ts';
import { FsBlobStore } from './fs.ts';

export async function createBlobStore(config: Config): Promise<BlobStore> {
  const store = new FsBlobStore(join(config.dataDir, 'storage'));
  await store.init();
  return store;
}
