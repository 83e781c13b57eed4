// Failed logins are limited per client address and per login name, in PostgreSQL
// so every replica counts together. A login reads the two counters (no write);
// only a failure writes. While a key is over its limit, logins answer 429
// TOOMANYREQUESTS with Retry-After, before any password is checked.
import type { DatabasePool } from 'slonik';
import { blockedKeys, pruneFailures, recordFailures } from '../db/login-failures.ts';
import { RegistryError } from '../errors/codes.ts';

export interface LoginLimits {
  perClient: number;
  perUser: number;
  windowSeconds: number;
}

/** Who attempts a login: the client address, and the name tried (absent for refresh tokens). */
export interface LoginAttempt {
  client: string;
  user: string | null;
}

function keysOf(a: LoginAttempt, limits: LoginLimits): Array<{ key: string; limit: number }> {
  const keys = [{ key: `addr:${a.client}`, limit: limits.perClient }];
  // names are bounded so a flood of long names cannot bloat the table
  if (a.user !== null) keys.push({ key: `user:${a.user.slice(0, 128)}`, limit: limits.perUser });
  return keys;
}

/** Throws 429 when the client or the name is over its limit. */
export async function checkLoginAllowed(pool: DatabasePool, limits: LoginLimits, a: LoginAttempt): Promise<void> {
  const blocked = await blockedKeys(pool, keysOf(a, limits), limits.windowSeconds);
  if (blocked.length === 0) return;
  const retry = Math.max(1, ...blocked.map((b) => b.retry_after));
  throw new RegistryError('TOOMANYREQUESTS', 'too many failed logins; try again later', { 'Retry-After': String(retry) });
}

export async function recordLoginFailure(pool: DatabasePool, limits: LoginLimits, a: LoginAttempt): Promise<void> {
  await recordFailures(pool, keysOf(a, limits).map((k) => k.key), limits.windowSeconds);
  if (Math.random() < 0.01) await pruneFailures(pool, limits.windowSeconds);
}
