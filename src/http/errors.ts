// The only place an error becomes an OCI {"errors":[...]} body.
import type { ErrorRequestHandler, Response } from 'express';
import { databaseFailure } from '../db/errors.ts';
import { messageOf, RegistryError } from '../errors/codes.ts';
import type { Logger } from '../logger.ts';

export function sendError(res: Response, err: RegistryError, method?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(err.status);
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  const body = JSON.stringify({ errors: [{ code: err.code, message: messageOf(err.code), detail: err.detail ?? null }] });
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  if (method === 'HEAD') res.end();
  else res.end(body);
}

/** Client errors pass through; database outages become 503; anything else is logged and becomes a 500. */
export function toRegistryError(err: unknown, log: Logger): RegistryError {
  if (err instanceof RegistryError) return err;
  const db = databaseFailure(err);
  if (db) {
    log.warn('database unavailable', { error: String(err) });
    return db;
  }
  const e = err as { type?: string; status?: number; message?: string };
  if (e?.type === 'entity.too.large') return new RegistryError('TOO_LARGE', e.message);
  if (e?.status === 400 && e?.type) return new RegistryError('UNSUPPORTED', e.message);
  log.error('unexpected error', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  return new RegistryError('UNKNOWN', 'internal error');
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    sendError(res, toRegistryError(err, log), req.method);
  };
}
