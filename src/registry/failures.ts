// What the client is told when a dependency fails, decided here for all of them:
// the layers below throw their own errors (drivers StorageError, the database
// slonik's and PostgreSQL's), the domain code lets them pass, and the HTTP layer
// asks classifyFailure once, where every error becomes an OCI body.
import { badInputFailure, databaseFailure } from '../db/errors.ts';
import { RegistryError } from '../errors/codes.ts';
import { StorageError } from '../storage/blob-store.ts';

/** A dependency's failure as the client sees it, and the line the operator sees. */
export interface ClassifiedFailure {
  error: RegistryError;
  log: string;
}

/** A storage outage is a 503 (with Retry-After), a full store a 507; anything else is not classified. */
function storageFailure(err: unknown): ClassifiedFailure | null {
  if (!(err instanceof StorageError)) return null;
  if (err.kind === 'unavailable') return { error: new RegistryError('UNAVAILABLE', 'storage unavailable'), log: 'storage unavailable' };
  if (err.kind === 'full') return { error: new RegistryError('INSUFFICIENT_STORAGE', 'storage is full'), log: 'storage full' };
  return null;
}

/**
 * A database or storage failure the client is told about (an outage, a full
 * store, a value the database refused as data), or null: a RegistryError is
 * already the client's answer, and anything else is unexpected (a 500).
 */
export function classifyFailure(err: unknown): ClassifiedFailure | null {
  if (err instanceof RegistryError) return null;
  // storage first: a StorageError's cause may carry a network code (ECONNREFUSED) the database check would claim
  const storage = storageFailure(err);
  if (storage || err instanceof StorageError) return storage;
  const db = databaseFailure(err);
  if (db) return { error: db, log: db.code === 'UNAVAILABLE' ? 'database unavailable' : 'database out of disk space' };
  // logged: the edge should have refused the value
  const bad = badInputFailure(err);
  return bad ? { error: bad, log: 'database refused a request value' } : null;
}
