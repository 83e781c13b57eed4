// Cross-replica signals on a dedicated LISTEN connection: the names of
// repositories whose tags or manifests changed (sent inside the committing
// transaction, so they arrive only for committed changes), and the ids of upload
// sessions whose kept lease another request wants (src/registry/push/kept-leases.ts),
// and the pull-through fetches that ended (src/registry/proxy/flight.ts).
// The same connection holds the process's upload-lease holder lock
// (migrations/0007_upload_leases.sql): it lasts exactly as long as the connection.
import { randomInt } from 'node:crypto';
import pg from 'pg';
import { sql, type CommonQueryMethods } from 'slonik';
import type { Logger } from '../logger.ts';
import { FETCH_CHANNEL } from './proxy-fetches.ts';
import { HOLDER_LOCK_CLASS } from './uploads.ts';

const CHANNEL = 'bollard_manifests';
const LEASE_CHANNEL = 'bollard_upload_leases';

export async function notifyManifestChange(db: CommonQueryMethods, repository: string): Promise<void> {
  await db.query(sql.unsafe`SELECT pg_notify(${CHANNEL}, ${repository})`);
}

/** Asks whichever process keeps this upload session's lease to give it back. */
export async function askForLease(db: CommonQueryMethods, sessionId: string): Promise<void> {
  await db.query(sql.unsafe`SELECT pg_notify(${LEASE_CHANNEL}, ${sessionId})`);
}

export interface ListenerHandlers {
  onChange(repository: string): void;
  /** Another process wants this upload session's lease. */
  onLeaseWanted?(sessionId: string): void;
  /** A pull-through fetch ended ('<kind> <key>', src/db/proxy-fetches.ts): its waiters look again. */
  onFetchEnded?(key: string): void;
  /** true once listening; false whenever notifications may have been missed */
  onState(listening: boolean): void;
  /** The id of the holder lock this connection took; null when the connection (and so the lock) is lost. */
  onHolder?(id: number | null): void;
}

/** Takes a holder lock under a fresh random id (another process may have drawn the same one). */
async function holdLock(c: pg.Client): Promise<number> {
  for (;;) {
    const id = randomInt(1, 2 ** 31 - 1);
    const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [HOLDER_LOCK_CLASS, id]);
    if (r.rows[0]?.ok) return id;
  }
}

export interface Listener {
  /** Settles after the first attempt to connect, whether it succeeded or not. */
  ready: Promise<void>;
  close(): Promise<void>;
}

export function listenForChanges(url: string, handlers: ListenerHandlers, log: Logger): Listener {
  let client: pg.Client | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | null = null;
  let delay = 200;

  const connect = async () => {
    const c = new pg.Client({ connectionString: url, keepAlive: true, connectionTimeoutMillis: 10_000 });
    client = c;
    const lost = (why: string) => {
      handlers.onState(false);
      handlers.onHolder?.(null);
      if (client === c) client = null;
      c.end().catch(() => undefined);
      if (!closed && !retry) {
        log.warn('change listener lost, manifest cache off until it is back', { why });
        retry = setTimeout(() => {
          retry = null;
          void connect();
        }, delay);
        delay = Math.min(delay * 2, 10_000);
      }
    };
    c.on('error', (err) => lost(err.message));
    c.on('end', () => lost('connection ended'));
    c.on('notification', (n) => {
      if (n.channel === CHANNEL && n.payload) handlers.onChange(n.payload);
      if (n.channel === LEASE_CHANNEL && n.payload) handlers.onLeaseWanted?.(n.payload);
      if (n.channel === FETCH_CHANNEL && n.payload) handlers.onFetchEnded?.(n.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
      if (handlers.onLeaseWanted) await c.query(`LISTEN ${LEASE_CHANNEL}`);
      if (handlers.onFetchEnded) await c.query(`LISTEN ${FETCH_CHANNEL}`);
      if (handlers.onHolder) handlers.onHolder(await holdLock(c));
      delay = 200;
      handlers.onState(true);
    } catch (err) {
      lost((err as Error).message);
    }
  };
  const ready = connect();
  return {
    ready,
    close: async () => {
      closed = true;
      if (retry) clearTimeout(retry);
      handlers.onState(false);
      handlers.onHolder?.(null);
      await client?.end().catch(() => undefined);
    },
  };
}
