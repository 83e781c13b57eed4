// Opens the configured database (starting the embedded one when no DATABASE_URL),
// migrated, for an operator command, and closes it afterwards.
import type { DatabasePool } from 'slonik';
import { loadConfig } from '../config/index.ts';
import { startEmbeddedPostgres } from '../db/embedded.ts';
import { migrate } from '../db/migrate.ts';
import { openPool } from '../db/pool.ts';
import { createLogger } from '../logger.ts';

export async function withDatabase<T>(fn: (pool: DatabasePool) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const embedded = config.database.url ? null : await startEmbeddedPostgres(config.dataDir, config.database.embeddedPort, log);
  const pool = await openPool(config.database.url ?? (embedded as { url: string }).url, { maximumPoolSize: 2 });
  try {
    await migrate(pool);
    return await fn(pool);
  } finally {
    await pool.end();
    await embedded?.stop();
  }
}
