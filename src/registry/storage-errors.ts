import { RegistryError } from '../errors/codes.ts';
import { StorageError } from '../storage/blob-store.ts';

/** What the client is told when storage fails: an outage is a 503, anything else propagates. */
export function storageFailure(err: unknown): unknown {
  if (err instanceof StorageError && err.kind === 'unavailable') return new RegistryError('UNAVAILABLE', 'storage unavailable');
  return err;
}
