// The only place an error becomes an OCI {"errors":[...]} body.
import type { ErrorRequestHandler, Response } from 'express';
import { messageOf, RegistryError } from '../errors/codes.ts';
import type { Logger } from '../logger.ts';
import { classifyFailure } from '../registry/failures.ts';

export function sendError(res: Response, err: RegistryError, method?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(err.status);
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  const body = JSON.stringify({ errors: [{ code: err.code, message: err.clientMessage ?? messageOf(err.code), detail: err.detail ?? null }] });
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  if (method === 'HEAD') res.end();
  else res.end(body);
}

/**
 * Client errors pass through; failures of the database or storage become what
 * registry/failures.ts says (503, 507, 400) and are logged at warn; anything else
 * is logged and becomes a 500.
 */
export function toRegistryError(err: unknown, log: Logger): RegistryError {
  if (err instanceof RegistryError) return err;
  const failure = classifyFailure(err);
  if (failure) {
    log.warn(failure.log, { error: String(err) });
    return failure.error;
  }
  const parse = bodyParserFailure(err);
  if (parse) return parse;
  log.error('unexpected error', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  return new RegistryError('UNKNOWN', 'internal error');
}

/**
 * The errors of express's body parsers (the token endpoint's form): a client's
 * fault, told with its status class (a charset or encoding it does not know, a
 * malformed or cut-off body, too many fields), never a 500.
 */
function bodyParserFailure(err: unknown): RegistryError | null {
  // raw-body's own errors carry a `type`; a failure of the decompressing stream (a body that is
  // not the gzip or brotli it claims) comes wrapped by http-errors, `expose`d as a client error
  const e = err as { type?: unknown; expose?: unknown; status?: unknown; message?: string } | null;
  if (typeof e?.type !== 'string' && e?.expose !== true) return null;
  if (typeof e.status !== 'number' || e.status < 400 || e.status > 499) return null;
  if (e.status === 413) return new RegistryError('TOO_LARGE', e.message);
  return new RegistryError('PARAMETER_INVALID', e.message);
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    sendError(res, toRegistryError(err, log), req.method);
  };
}
