// Maps database failures to domain errors: a database that cannot be reached is
// a 503 for the client, never a 500 and never a hang; a value the database
// refuses as data (a NUL byte, text a type cannot parse) is the client's 400.
import { ConnectionError, BackendTerminatedError, BackendTerminatedUnexpectedlyError, InvalidInputError, StatementTimeoutError, SlonikError } from 'slonik';
import { RegistryError } from '../errors/codes.ts';

const UNAVAILABLE_PG_CODES = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08003', '08006', '08001', '08004']);

// Data exceptions (SQLSTATE class 22) that only a value from outside can cause.
// Input is validated at the edge; these are the backstop for a value that slipped
// through, so it is still a 400 and never a 500. Division by zero and the like
// stay out: those would be our own bugs.
const BAD_INPUT_PG_CODES = new Set([
  '22021', // character_not_in_repertoire: a NUL or invalid UTF-8 in a text parameter
  '22P05', // untranslatable_character: "\u0000" in jsonb
  '22P02', // invalid_text_representation: text a type cannot parse (uuid, integer, json)
  '22P03', // invalid_binary_representation
  '22001', // string_data_right_truncation
  '22003', // numeric_value_out_of_range
  '22007', // invalid_datetime_format
  '22008', // datetime_field_overflow
  '22019', // invalid_escape_character
  '22025', // invalid_escape_sequence
  '22023', // invalid_parameter_value
  '2201B', // invalid_regular_expression
  '22032', // invalid_json_text
]);

/** The SQLSTATE of a PostgreSQL error, however deep the driver wrapped it. */
function sqlState(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown } | null | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string') return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

export function databaseFailure(err: unknown): RegistryError | null {
  if (err instanceof RegistryError) return null;
  // BackendTerminatedUnexpectedly: the server died while a query ran on the connection (killed, or restarting)
  if (err instanceof ConnectionError || err instanceof BackendTerminatedError || err instanceof BackendTerminatedUnexpectedlyError || err instanceof StatementTimeoutError) {
    return new RegistryError('UNAVAILABLE', 'database unavailable');
  }
  const code = sqlState(err);
  // disk_full: the default layout keeps the embedded PostgreSQL in the same data directory as the blobs
  if (code === '53100') return new RegistryError('INSUFFICIENT_STORAGE', 'the database is out of disk space');
  if (code && (UNAVAILABLE_PG_CODES.has(code) || code === 'ECONNREFUSED' || code === 'ECONNRESET')) {
    return new RegistryError('UNAVAILABLE', 'database unavailable');
  }
  if (err instanceof SlonikError && /connect/i.test(err.message)) return new RegistryError('UNAVAILABLE', 'database unavailable');
  return null;
}

/**
 * A value the database refused as data: PARAMETER_INVALID, or null when the failure
 * is something else. slonik reports 22P02 as InvalidInputError without its code, and
 * throws the same error itself for jsonb holding a NUL or a lone surrogate.
 */
export function badInputFailure(err: unknown): RegistryError | null {
  if (err instanceof RegistryError) return null;
  const code = sqlState(err);
  if (!(err instanceof InvalidInputError) && (code === undefined || !BAD_INPUT_PG_CODES.has(code))) return null;
  return new RegistryError('PARAMETER_INVALID', 'a value in the request cannot be stored or compared');
}
