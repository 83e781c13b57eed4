// An in-process registry for HTTP tests: real PostgreSQL (a fresh database),
// real filesystem storage in a temp dir, the app built by createApp.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import type { DatabasePool } from 'slonik';
import { createApp } from '../../src/app.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openPool } from '../../src/db/pool.ts';
import { createLogger } from '../../src/logger.ts';
import type { RegistryOptions } from '../../src/registry/context.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';

export interface TestRegistry {
  app: Express;
  pool: DatabasePool;
  store: FsBlobStore;
  storageDir: string;
  db: TestDatabase;
  close(): Promise<void>;
}

export const DEFAULT_OPTIONS: RegistryOptions = {
  deleteEnabled: true,
  autoMount: true,
  maxManifestBytes: 4 * 1024 * 1024,
  pageSizeMax: 10_000,
};

export async function createTestRegistry(options: Partial<RegistryOptions> = {}): Promise<TestRegistry> {
  const db = await createTestDatabase();
  const pool = await openPool(db.url, { maximumPoolSize: 10 });
  await migrate(pool);
  const storageDir = await mkdtemp(join(tmpdir(), 'bollard-test-store-'));
  const store = new FsBlobStore(storageDir);
  await store.init();
  const log = createLogger(process.env.TEST_LOG === '1' ? 'debug' : 'silent');
  const app = createApp({ pool, store, log, options: { ...DEFAULT_OPTIONS, ...options } });
  return {
    app,
    pool,
    store,
    storageDir,
    db,
    close: async () => {
      await pool.end();
      await db.drop();
      await rm(storageDir, { recursive: true, force: true });
    },
  };
}
