// The fuzzer's client: raw bytes over node:net, so a request can lie about its
// framing, stop in the middle or be reset. It writes the request's segments,
// ends the connection as told, and reads whatever the server answers.
import { connect } from 'node:net';
import { ResponseParser, type ParsedResponse } from './response-parser.ts';

export interface Target {
  host: string;
  port: number;
}

export function targetOf(url: string): Target {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 80) };
}

/** How the client ends its side once the segments are written. */
export type Ending =
  | 'read' // wait for the answers (the server closes, or `expect` answers came on a kept-alive connection)
  | 'fin' // half-close (FIN), then read what comes until the server closes
  | 'close' // close at once without reading (FIN, and the socket is gone)
  | 'reset'; // reset at once (RST)

export interface Wire {
  /** Written in order; several segments exercise the server parser's partial states. */
  segments: Buffer[];
  ending: Ending;
  /** Whether the i-th request on the connection is a HEAD (its answer has no body). */
  heads: boolean[];
  /** Answers to wait for before hanging up on a kept-alive connection. */
  expect: number;
  /** A pause between the last segment and the ending (a cut that comes while the server works). */
  pauseMs?: number;
}

export interface Exchange {
  responses: ParsedResponse[];
  /** answered: at least one response; closed: none, the connection ended; timeout: none in time; refused: nobody listens. */
  outcome: 'answered' | 'closed' | 'timeout' | 'refused';
  garbled: string | null;
  /** The socket error, if any (ECONNRESET when the server hung up while we were still sending). */
  error: string | null;
  /** Every segment was handed to the socket before the connection ended. */
  wroteAll: boolean;
  ms: number;
}

const LINGER_MS = 150; // after the expected answers, for any the server sends to bytes it read as a further request

export function exchange(t: Target, wire: Wire, timeoutMs: number): Promise<Exchange> {
  const started = Date.now();
  return new Promise((resolve) => {
    const parser = new ResponseParser((i) => wire.heads[i] ?? false);
    const socket = connect({ host: t.host, port: t.port, noDelay: true });
    let connected = false;
    let settled = false;
    let error: string | null = null;
    let wroteAll = false;
    let timer: NodeJS.Timeout | undefined;
    const done = (outcome?: Exchange['outcome']) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!socket.destroyed) socket.destroy();
      parser.finish();
      const answered = parser.responses.length > 0;
      resolve({ responses: parser.responses, outcome: outcome ?? (answered ? 'answered' : 'closed'), garbled: parser.garbled, error, wroteAll, ms: Date.now() - started });
    };
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
      if (!connected && err.code === 'ECONNREFUSED') done('refused');
      // otherwise the server answered and hung up before we finished writing: read what came
    });
    socket.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      if (wire.ending === 'read' && parser.responses.length >= wire.expect && parser.pending === 0) {
        clearTimeout(timer);
        timer = setTimeout(() => done(), LINGER_MS);
      }
    });
    socket.on('close', () => done());
    socket.once('connect', () => {
      connected = true;
      timer = setTimeout(() => done(parser.responses.length > 0 ? 'answered' : 'timeout'), timeoutMs);
      void writeAll(socket, wire.segments).then(async (all) => {
        wroteAll = all;
        if (wire.pauseMs) await new Promise((r) => setTimeout(r, wire.pauseMs));
        if (settled) return;
        if (wire.ending === 'close') done();
        else if (wire.ending === 'reset') {
          socket.resetAndDestroy();
          done();
        } else if (wire.ending === 'fin') socket.end();
      });
    });
  });
}

/** Writes the segments in order; false when the connection ended first. */
async function writeAll(socket: import('node:net').Socket, segments: readonly Buffer[]): Promise<boolean> {
  for (const [i, seg] of segments.entries()) {
    if (socket.destroyed || !socket.writable) return false;
    if (i > 0) await new Promise((r) => setImmediate(r)); // let the segment leave on its own
    await new Promise<void>((resolve) => {
      if (!socket.write(seg, () => resolve())) socket.once('drain', () => resolve());
      socket.once('close', () => resolve());
    });
  }
  return !socket.destroyed;
}
