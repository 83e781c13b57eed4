// Request ids and the access log: one JSON line per request when it ends, sent
// or cut off, and the same measurements handed to the HTTP metrics.
//  - X-Request-Id is the client's when it is a sane token (a proxy's or a
//    client's id then ties their logs to ours), else a fresh UUID; it is echoed
//    on the response and carried by every line logged while the request is served.
//  - Bytes are counted on the wire (headers included) from the socket's counters:
//    a request body is a stream the handlers consume, and wrapping it would cost
//    on the hot path. A keep-alive connection's counters are split per request.
//  - A client that goes away mid-request is an ordinary event: info, `aborted`.
//  - Probes and /metrics are asked every few seconds: their lines are debug.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { withLogContext, type Logger } from '../logger.ts';
import { clientOf } from './credentials.ts';
import { userOf } from './request-user.ts';
import { routeOf } from './route-label.ts';

export interface Exchange {
  method: string;
  route: string;
  /** The status sent, or 499 when the client went away before the response was complete. */
  status: number;
  bytesIn: number;
  bytesOut: number;
  seconds: number;
}

const SANE_ID = /^[A-Za-z0-9._:+=/-]{1,128}$/;
const QUIET_ROUTES = new Set(['/metrics', '/healthz', '/readyz']);
/** nginx's code for "client closed request": the response was never complete. */
const CLIENT_GONE = 499;

/** What each socket had read and written when its last request ended. */
const marks = new WeakMap<Socket, { read: number; written: number }>();
const requestIds = new WeakMap<Response, string>();

export function requestIdOf(res: Response): string | undefined {
  return requestIds.get(res);
}

export function accessLog(log: Logger, record: (x: Exchange) => void = () => undefined): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const requestId = given !== undefined && SANE_ID.test(given) ? given : randomUUID();
    requestIds.set(res, requestId);
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    // read now: mounted routers rewrite req.url while they run, and a connection
    // destroyed before the response ends leaves the request without a socket
    const { route, repository } = routeOf(req);
    const client = clientOf(req);
    const socket = req.socket;
    res.once('close', () => {
      try {
        logExchange();
      } catch (err) {
        // an event handler's throw would end the process: one request's log line is not worth that
        log.error('access log line failed', { requestId, error: String(err) });
      }
    });
    const logExchange = () => {
      const aborted = !res.writableFinished;
      const { bytesIn, bytesOut } = wireBytes(socket);
      const x: Exchange = {
        method: req.method,
        route,
        status: aborted ? CLIENT_GONE : res.statusCode,
        bytesIn,
        bytesOut,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      };
      record(x);
      const line = {
        requestId,
        method: x.method,
        route,
        ...(repository !== undefined ? { repository } : {}),
        status: x.status,
        bytesIn,
        bytesOut,
        durationMs: Math.round(x.seconds * 1e6) / 1e3,
        client,
        ...withUser(userOf(res)),
        ...(aborted ? { aborted: true } : {}),
      };
      if (QUIET_ROUTES.has(route)) log.debug('request', line);
      else log.info(aborted ? 'request cut off: the client went away' : 'request', line);
    };
    withLogContext({ requestId }, next);
  };
}

/**
 * An error handler run in its request's log context, whatever context the error
 * arrived in (a stream's event handler has the socket's, not the request's).
 */
export function inRequestContext(handler: ErrorRequestHandler): ErrorRequestHandler {
  return (err, req, res, next) => {
    const requestId = requestIdOf(res);
    if (requestId === undefined) return handler(err, req, res, next);
    return withLogContext({ requestId }, () => handler(err, req, res, next));
  };
}

function wireBytes(socket: Socket | null | undefined): { bytesIn: number; bytesOut: number } {
  if (!socket) return { bytesIn: 0, bytesOut: 0 };
  const before = marks.get(socket) ?? { read: 0, written: 0 };
  const now = { read: socket.bytesRead, written: socket.bytesWritten };
  marks.set(socket, now);
  return { bytesIn: Math.max(0, now.read - before.read), bytesOut: Math.max(0, now.written - before.written) };
}

function withUser(user: string | undefined): { user?: string } {
  return user === undefined ? {} : { user };
}
