// The database of an operator command (users, grants, gc, retention, migrate…).
// With DATABASE_URL, that one. Without, the embedded PostgreSQL of the data
// directory: when `bollard serve` already runs it, the command connects to that
// server and leaves it alone (starting a second one on the same directory is
// refused by PostgreSQL, and stopping serve's would take its database away);
// when nothing runs it, the command starts it and stops it afterwards.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import type { Logger } from '../logger.ts';
import { startEmbeddedPostgres, EMBEDDED_DATABASE, EMBEDDED_USER } from './embedded.ts';
import { livePostmasterOf } from './embedded-leftover.ts';

export interface CommandDatabase {
  url: string;
  /** Stops the embedded server if this command started it; otherwise nothing. */
  release(): Promise<void>;
}

export async function openCommandDatabase(
  config: { databaseUrl: string | undefined; dataDir: string; embeddedPostgresPort: number },
  log: Logger,
): Promise<CommandDatabase> {
  if (config.databaseUrl) return { url: config.databaseUrl, release: async () => undefined };
  const running = await runningEmbeddedUrl(config.dataDir);
  if (running) {
    log.debug('using the embedded postgres a running bollard serve started', { url: running.replace(/:[^:@]*@/, ':***@') });
    return { url: running, release: async () => undefined };
  }
  const embedded = await startEmbeddedPostgres(config.dataDir, config.embeddedPostgresPort, log);
  return { url: embedded.url, release: () => embedded.stop() };
}

/**
 * The URL of the embedded server running on the data directory, if one runs and
 * answers. Its port comes from its postmaster.pid (serve may have been started
 * with another BOLLARD_EMBEDDED_PG_PORT than this command), its password from the
 * secret file Bollard keeps beside it.
 */
export async function runningEmbeddedUrl(dataDir: string): Promise<string | null> {
  const dir = resolve(dataDir, 'postgres');
  if ((await livePostmasterOf(dir)) === null) return null;
  // postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shmem key, status
  const lines = (await readFile(join(dir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const port = Number.parseInt(lines[3] ?? '', 10);
  const password = (await readFile(join(dataDir, 'postgres.secret'), 'utf8').catch(() => '')).trim();
  if (!(port > 0) || !password) return null;
  const url = `postgres://${EMBEDDED_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${EMBEDDED_DATABASE}`;
  return (await answers(url)) ? url : null;
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined); // a failure surfaces through the awaited calls
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
