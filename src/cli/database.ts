// Opens the configured database (the embedded one serve runs, or starts it when
// nothing runs it: src/db/embedded-attach.ts), migrated, for an operator
// command, and closes it afterwards.
import type { DatabasePool } from 'slonik';
import { loadConfig } from '../config/index.ts';
import { databaseLocation } from '../config/runtime.ts';
import { openCommandDatabase } from '../db/embedded-attach.ts';
import { migrate } from '../db/migrate.ts';
import { openPool } from '../db/pool.ts';
import { createLogger } from '../logger.ts';

export async function withDatabase<T>(fn: (pool: DatabasePool) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const db = await openCommandDatabase(databaseLocation(config), log);
  const pool = await openPool(db.url, { maximumPoolSize: 2 });
  try {
    await migrate(pool);
    return await fn(pool);
  } finally {
    await pool.end();
    await db.release();
  }
}
