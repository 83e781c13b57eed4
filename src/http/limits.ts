// Limits that keep slow or stalled clients from holding the server's resources.
//  - A request body that stops arriving for `bodyIdleMs` (while the server is
//    waiting for it, not while storage holds it back) is cut: the request fails as
//    if the client had gone, and whatever it held is given back by the code that
//    reads the body (src/registry/push/upload-lease.ts, src/registry/push/uploads.ts).
//  - At most `maxUploads` upload requests with a body run at once; beyond that the
//    client is told to come back (503 with Retry-After) before its body is read.
// The header timeout is the HTTP server's own (src/main.ts).
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { RegistryError } from '../errors/codes.ts';
import { hasBody } from './params.ts';

export interface HttpLimits {
  /** A request body idle this long is cut off; 0: never. */
  bodyIdleMs: number;
  /** Upload requests with a body in progress at once; 0: unlimited. */
  maxUploads: number;
}

/** Upload routes that carry blob bytes: POST (monolithic), PATCH and PUT on blobs/uploads. */
function isUploadBody(req: Request): boolean {
  return (req.method === 'POST' || req.method === 'PATCH' || req.method === 'PUT') && req.path.includes('/blobs/uploads') && hasBody(req);
}

export function requestLimits(limits: HttpLimits): RequestHandler {
  let uploads = 0;
  return (req: Request, res: Response, next: NextFunction) => {
    if (!hasBody(req)) return next();
    if (isUploadBody(req)) {
      if (limits.maxUploads > 0 && uploads >= limits.maxUploads) {
        res.setHeader('Connection', 'close'); // its body is not read
        return next(new RegistryError('UNAVAILABLE', `${limits.maxUploads} uploads are in progress; retry shortly`));
      }
      uploads += 1;
      res.once('close', () => (uploads -= 1));
    }
    if (limits.bodyIdleMs > 0) cutWhenIdle(req, limits.bodyIdleMs);
    next();
  };
}

/**
 * Destroys the request when no body bytes arrive for `ms` while the server waits
 * for them. Progress is read from the socket's byte count, so nothing here consumes
 * the body. Bytes already buffered mean the server is the slow side (storage holds
 * the body back, or the handler has not started reading it): the client is not idle.
 */
function cutWhenIdle(req: Request, ms: number): void {
  const socket = req.socket;
  let bytes = socket.bytesRead;
  let last = Date.now();
  const timer = setInterval(() => {
    if (req.complete || req.destroyed) return clearInterval(timer);
    if (socket.bytesRead !== bytes || req.readableLength > 0) {
      bytes = socket.bytesRead;
      last = Date.now();
    } else if (Date.now() - last >= ms) {
      clearInterval(timer);
      req.destroy(new Error(`no request body bytes for ${ms} ms`));
    }
  }, Math.max(Math.min(ms / 4, 1000), 10));
  timer.unref();
}
