// Maps database failures to domain errors: a database that cannot be reached is
// a 503 for the client, never a 500 and never a hang.
import { ConnectionError, BackendTerminatedError, StatementTimeoutError, SlonikError } from 'slonik';
import { RegistryError } from '../errors/codes.ts';

const UNAVAILABLE_PG_CODES = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08003', '08006', '08001', '08004']);

export function databaseFailure(err: unknown): RegistryError | null {
  if (err instanceof RegistryError) return null;
  if (err instanceof ConnectionError || err instanceof BackendTerminatedError || err instanceof StatementTimeoutError) {
    return new RegistryError('UNAVAILABLE', 'database unavailable');
  }
  const code = (err as { code?: string } | null)?.code ?? ((err as { cause?: { code?: string } } | null)?.cause?.code);
  if (code && (UNAVAILABLE_PG_CODES.has(code) || code === 'ECONNREFUSED' || code === 'ECONNRESET')) {
    return new RegistryError('UNAVAILABLE', 'database unavailable');
  }
  if (err instanceof SlonikError && /connect/i.test(err.message)) return new RegistryError('UNAVAILABLE', 'database unavailable');
  return null;
}
