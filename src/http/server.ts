// The HTTP server around the app: what Node's HTTP layer answers before, or
// instead of, express.
//  - A request-target express cannot parse (an absolute form such as
//    `http://[/v2/`) skips every route; express would answer with its own HTML
//    404. It gets the OCI 404 every unknown endpoint gets.
//  - CONNECT never reaches express: it is answered 405 rather than left hanging.
//  - A request Node's parser refuses (malformed, headers too large or too late)
//    is answered as Node would (400, 431, 408, empty body), but the connection is
//    ended and what the client still sends is read and dropped, so the answer
//    arrives instead of being lost to a reset.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Express } from 'express';
import { RegistryError } from '../errors/codes.ts';
import { sendError } from './errors.ts';

export interface ServerTimeouts {
  /** A client must send its request headers within this. */
  headersTimeoutMs: number;
}

/** How long a refused client may go on sending before its connection is closed. */
const DRAIN_MS = 1000;

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 405: 'Method Not Allowed', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

function refuse(socket: Duplex, status: number): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.resume();
  setTimeout(() => socket.destroy(), DRAIN_MS).unref();
}

/** With `tls` (a PEM certificate and key, src/http/tls.ts) it serves HTTPS, with the same limits and answers. */
export function createHttpServer(app: Express, timeouts: ServerTimeouts, tls?: { cert: Buffer; key: Buffer }): Server {
  const options = {
    // large blobs may stream for a long time: a stalled body is cut by the idle-body timeout instead
    requestTimeout: 0,
    headersTimeout: timeouts.headersTimeoutMs,
    // how often late headers are looked for (Node's default, 30 s, would let a slow client hold twice the timeout)
    connectionsCheckingInterval: Math.min(1000, timeouts.headersTimeoutMs),
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    // express 5 gives req and res its own prototypes in app.handle, before any routing
    (app as unknown as (q: typeof req, r: typeof res, done: (err?: unknown) => void) => void)(req, res, (err?: unknown) => {
      const answer = err instanceof RegistryError ? err : new RegistryError('NAME_UNKNOWN', 'no API endpoint at this request target');
      sendError(res as Parameters<typeof sendError>[0], answer, req.method);
    });
  };
  const server: Server = tls ? createHttpsServer({ ...options, ...tls }, handle) : createServer(options, handle);
  server.keepAliveTimeout = 65_000;
  server.on('connect', (_req, socket: Duplex) => refuse(socket, 405));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET') return void socket.destroy();
    refuse(socket, err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400);
  });
  return server;
}
