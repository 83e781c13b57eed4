import { RegistryError } from '../errors/codes.ts';
import { StorageError } from '../storage/blob-store.ts';

/**
 * What the client is told when storage fails: an outage is a 503 (with Retry-After),
 * a full store a 507, anything else propagates (and is logged as a 500).
 */
export function storageFailure(err: unknown): unknown {
  if (!(err instanceof StorageError)) return err;
  if (err.kind === 'unavailable') return new RegistryError('UNAVAILABLE', 'storage unavailable');
  if (err.kind === 'full') return new RegistryError('INSUFFICIENT_STORAGE', 'storage is full');
  return err;
}
