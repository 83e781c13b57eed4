// An external database that does not answer when serve starts (its server or
// its network still coming up, as after a host reboot or beside a database
// container) is tried again with a growing delay for a configurable time, each
// failure logged with its reason, instead of failing the first attempt. Errors
// that are no connection failure (bad password, missing database, SQL) fail at
// once: waiting would not change them.
import type { Logger } from '../logger.ts';

const RETRYABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE',
  '57P03', // cannot_connect_now: the server is starting up or shutting down
  '53300', // too_many_connections
]);

export class DatabaseUnreachableError extends Error {
  override name = 'DatabaseUnreachableError';
}

export interface RetryOptions {
  /** 0: one attempt */
  timeoutMs: number;
  /** host:port, for the log (never the URL: it may hold a password) */
  target: string;
  log: Logger;
  firstDelayMs?: number;
  maxDelayMs?: number;
}

export async function retryWhileUnreachable<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const started = Date.now();
  const maxDelay = opts.maxDelayMs ?? 5_000;
  let delay = opts.firstDelayMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await fn();
      if (attempt > 1) opts.log.info('database answers', { database: opts.target, attempts: attempt, waitedMs: Date.now() - started });
      return result;
    } catch (err) {
      if (!isUnreachable(err)) throw err;
      const reason = reasonOf(err);
      const left = opts.timeoutMs - (Date.now() - started);
      if (left <= 0) {
        throw new DatabaseUnreachableError(
          `the database at ${opts.target} did not answer within ${Math.round(opts.timeoutMs / 1000)} s (${reason}); ` +
            'check DATABASE_URL and that PostgreSQL runs, or raise BOLLARD_DB_CONNECT_TIMEOUT',
        );
      }
      const wait = Math.min(delay, left);
      opts.log.warn('database not reachable, retrying', { database: opts.target, attempt, reason, retryInMs: wait });
      await new Promise((r) => setTimeout(r, wait));
      delay = Math.min(delay * 2, maxDelay);
    }
  }
}

/** A connection failure anywhere in the error's cause chain (slonik wraps pg's). */
export function isUnreachable(err: unknown): boolean {
  for (const e of causes(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && RETRYABLE_CODES.has(code)) return true;
    const name = (e as { name?: unknown }).name;
    const message = String((e as { message?: unknown }).message ?? '');
    if (name === 'ConnectionError' || /Connection terminated|timeout expired|connect ECONNREFUSED/.test(message)) return true;
  }
  return false;
}

function reasonOf(err: unknown): string {
  const all = causes(err);
  const deepest = all[all.length - 1] as { code?: unknown; message?: unknown } | undefined;
  const message = String(deepest?.message ?? err);
  return typeof deepest?.code === 'string' && !message.includes(deepest.code) ? `${deepest.code}: ${message}` : message;
}

function causes(err: unknown): object[] {
  const out: object[] = [];
  for (let e = err; e && typeof e === 'object' && out.length < 8; e = (e as { cause?: unknown }).cause) {
    out.push(e);
    for (const inner of (e as { errors?: unknown }).errors instanceof Array ? (e as { errors: unknown[] }).errors : []) {
      if (inner && typeof inner === 'object') out.push(inner);
    }
  }
  return out;
}

/** host:port of a postgres URL, without credentials. */
export function databaseTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}`;
  } catch {
    return '(unparsable DATABASE_URL)';
  }
}
