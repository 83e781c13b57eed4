// Requests caught mid-query by the database's death: a test connection takes an
// exclusive lock on the repositories table, which every registry request reads,
// so the requests sent next wait inside PostgreSQL until the server is killed.
import pg from 'pg';
import { waitFor } from './pg-bollard.ts';

export interface HeldLock {
  /** resolves once `n` other sessions wait for the lock */
  waiters(n: number): Promise<void>;
  /** ends the connection (after a kill it is already dead) */
  close(): Promise<void>;
}

export async function lockRepositories(databaseUrl: string): Promise<HeldLock> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => undefined); // the server's death ends this connection too
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE repositories IN ACCESS EXCLUSIVE MODE');
  return {
    waiters: async (n) => {
      await waitFor(`${n} requests waiting in PostgreSQL`, async () => {
        // inside a transaction the activity view is a snapshot taken once, unless cleared
        await client.query('SELECT pg_stat_clear_snapshot()');
        const r = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`);
        return (r.rows[0]?.n ?? 0) >= n;
      }, 10_000, 20);
    },
    close: () => client.end().catch(() => undefined),
  };
}
