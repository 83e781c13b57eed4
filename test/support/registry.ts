// An in-process registry for HTTP tests: real PostgreSQL (a fresh database),
// real storage (a temp dir, or a fresh prefix of the run's S3 bucket when
// BOLLARD_TEST_STORAGE=s3), the app built by createApp.
import type { Express } from 'express';
import type { DatabasePool } from 'slonik';
import { createApp } from '../../src/app.ts';
import { createAuth } from '../../src/auth/service.ts';
import { loadConfig } from '../../src/config/index.ts';
import { authConfig } from '../../src/config/runtime.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openPool } from '../../src/db/pool.ts';
import { createLogger } from '../../src/logger.ts';
import type { RegistryOptions } from '../../src/registry/context.ts';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { TEST_ADMIN, testAuthMode } from './auth-mode.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { fsStore, s3Store, testStorageKind, type StoreUnderTest } from './stores.ts';
import { tokenClient } from './token-client.ts';

const loadAuthConfig = (env: NodeJS.ProcessEnv) => authConfig(loadConfig(env));

export interface TestRegistry {
  app: Express;
  pool: DatabasePool;
  store: BlobStore;
  /** Paths the store holds for an upload session's staged bytes (empty once it is gone). */
  staging(uploadId: string): Promise<string[]>;
  /** The filesystem store's root directory (null on S3), for tests that damage files on disk. */
  fsRoot: string | null;
  /** The S3 store's key prefix in the run's bucket (null on the filesystem). */
  s3Prefix: string | null;
  db: TestDatabase;
  close(): Promise<void>;
}

export const DEFAULT_OPTIONS: RegistryOptions = {
  deleteEnabled: true,
  autoMount: true,
  maxManifestBytes: 4 * 1024 * 1024,
  pageSizeMax: 10_000,
};

/** `wrapStore`: what the app is given instead of the run's store, e.g. one without an optional method. */
export async function createTestRegistry(options: Partial<RegistryOptions> = {}, wrapStore: (store: BlobStore) => BlobStore = (s) => s): Promise<TestRegistry> {
  const db = await createTestDatabase();
  const pool = await openPool(db.url, { maximumPoolSize: 10 });
  await migrate(pool);
  const storage: StoreUnderTest = testStorageKind() === 's3' ? s3Store('http') : await fsStore();
  const store = wrapStore(storage.store);
  const log = createLogger(process.env.TEST_LOG === '1' ? 'debug' : 'silent');
  const deps = { pool, store, log, options: { ...DEFAULT_OPTIONS, ...options } };
  // token mode (the `token` project): token auth on, requests go through a token-aware client
  const auth = testAuthMode() === 'token' ? await createAuth(pool, loadAuthConfig({ BOLLARD_AUTH: 'token', BOLLARD_ADMIN_PASSWORD: TEST_ADMIN.password }), log) : null;
  const client = auth ? tokenClient(createApp({ ...deps, auth })) : null;
  const app = client?.app ?? createApp(deps);
  return {
    app,
    pool,
    store,
    staging: async (id) => (await storage.contents()).filter((p) => p.includes(`uploads/${id}`)),
    fsRoot: 'root' in storage ? (storage.root as string) : null,
    s3Prefix: 'prefix' in storage ? (storage.prefix as string) : null,
    db,
    close: async () => {
      await client?.close();
      await pool.end();
      await db.drop();
      await storage.destroy();
    },
  };
}
