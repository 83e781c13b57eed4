// Raw HTTP/1.1 over TCP for the fault suite: requests that stop, reset or lie
// about their length at a chosen moment, as real networks and clients produce them.
import { connect, type Socket } from 'node:net';

export interface Target {
  host: string;
  port: number;
}

export function targetOf(url: string): Target {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** How a request ends: the whole body, or cut after some bytes by a close (FIN) or a reset (RST). */
export type Ending = { kind: 'whole' } | { kind: 'close' | 'reset'; after: number; delayMs: number };

function head(method: string, path: string, headers: Record<string, string | number>): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: fault-suite', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''];
  return Buffer.from(lines.join('\r\n'));
}

function parse(raw: Buffer, method: string): RawResponse | null {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  const length = method === 'HEAD' ? 0 : Number(headers['content-length'] ?? 0);
  if (raw.length - (end + 4) < length) return null;
  return { status: Number(statusLine?.split(' ')[1]), headers, body: text.slice(end + 4, end + 4 + length) };
}

/** Sends a whole request and reads one response (Connection: close). */
export function send(t: Target, method: string, path: string, headers: Record<string, string | number> = {}, body: Buffer = Buffer.alloc(0), timeoutMs = 15_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const s = connect(t.port, t.host);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      const r = parse(Buffer.concat(chunks), method);
      if (r) {
        clearTimeout(timer);
        s.destroy();
        resolve(r);
      }
    });
    s.on('close', () => clearTimeout(timer));
    s.write(Buffer.concat([head(method, path, { 'Content-Length': body.length, Connection: 'close', ...headers }), body]));
  });
}

/**
 * Sends the headers (announcing `announced` bytes) and `after` bytes of body, waits
 * `delayMs`, then closes or resets the connection without reading the answer.
 */
export async function cut(t: Target, method: string, path: string, body: Buffer, ending: Exclude<Ending, { kind: 'whole' }>, announced = body.length, headers: Record<string, string | number> = {}): Promise<void> {
  const s: Socket = connect(t.port, t.host);
  s.on('error', () => undefined); // the server may answer and close first
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  s.write(Buffer.concat([head(method, path, { 'Content-Length': announced, ...headers }), body.subarray(0, ending.after)]));
  if (ending.delayMs > 0) await new Promise((r) => setTimeout(r, ending.delayMs));
  if (ending.kind === 'reset') s.resetAndDestroy();
  else s.end(() => s.destroy());
}

/** Opens an upload session; returns its path. */
export async function openSession(t: Target, repo: string): Promise<string> {
  const r = await send(t, 'POST', `/v2/${repo}/blobs/uploads/`);
  if (r.status !== 202 || !r.headers.location) throw new Error(`POST upload: ${r.status} ${r.body}`);
  return pathOf(r.headers.location);
}

/** The path (and query) of a Location header, which some registries send as an absolute URL. */
export function pathOf(location: string): string {
  if (!/^https?:\/\//.test(location)) return location;
  const u = new URL(location);
  return `${u.pathname}${u.search}`;
}

export function withQuery(path: string, query: string): string {
  return `${path}${path.includes('?') ? '&' : '?'}${query}`;
}

/** Sends the headers and the first `after` bytes of body, then leaves the request hanging; the caller ends the socket. */
export async function stall(t: Target, method: string, path: string, body: Buffer, after: number, headers: Record<string, string | number> = {}): Promise<Socket> {
  const s: Socket = connect(t.port, t.host);
  s.on('error', () => undefined);
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  s.write(Buffer.concat([head(method, path, { 'Content-Length': body.length, ...headers }), body.subarray(0, after)]));
  return s;
}

/** Resolves when the server closes the socket (or after `ms`, false). */
export function closedWithin(s: Socket, ms: number): Promise<boolean> {
  if (s.destroyed || s.readableEnded) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    s.resume();
    s.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
