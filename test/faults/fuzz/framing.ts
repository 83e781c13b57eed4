// Turns a request into bytes on the wire, framed honestly or with a lie: a
// Content-Length shorter or longer than the body, broken chunked encoding, a
// connection closed or reset in the middle of the head or the body, pipelining.
import type { Wire } from './raw-client.ts';
import type { Rng } from './prng.ts';
import type { FuzzRequest, Header } from './request.ts';

export type FramingKind =
  | 'honest'
  | 'honest-split'
  | 'chunked'
  | 'http/1.0'
  | 'pipelined'
  | 'length-short'
  | 'length-long-fin'
  | 'chunked-bad'
  | 'chunked-short-fin'
  | 'length-and-chunked'
  | 'two-lengths'
  | 'cut-head'
  | 'cut-body';

export interface Framed {
  kind: FramingKind;
  /** The framing tells the truth: the server must answer. */
  honest: boolean;
  wire: Wire;
  /** For the report: how it ended when cut. */
  detail: string;
}

const FRAMINGS: ReadonlyArray<readonly [number, FramingKind]> = [
  [52, 'honest'],
  [6, 'honest-split'],
  [8, 'chunked'],
  [2, 'http/1.0'],
  [3, 'pipelined'],
  [5, 'length-short'],
  [5, 'length-long-fin'],
  [4, 'chunked-bad'],
  [2, 'chunked-short-fin'],
  [2, 'length-and-chunked'],
  [1, 'two-lengths'],
  [4, 'cut-head'],
  [6, 'cut-body'],
];

function head(method: string, target: Buffer, headers: readonly Header[], version = 'HTTP/1.1'): Buffer {
  const parts: Buffer[] = [Buffer.from(`${method} `, 'latin1'), target, Buffer.from(` ${version}\r\n`)];
  for (const [k, v] of headers) parts.push(Buffer.from(`${k}: `, 'latin1'), typeof v === 'string' ? Buffer.from(v, 'latin1') : v, Buffer.from('\r\n'));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

function chunks(rng: Rng, body: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const n = Math.min(body.length - at, rng.int(1, Math.max(1, Math.ceil(body.length / rng.int(1, 4)))));
    out.push(Buffer.from(`${n.toString(16)}\r\n`), body.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  out.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(out);
}

function splitAt(rng: Rng, buf: Buffer): Buffer[] {
  if (buf.length < 2) return [buf];
  const cuts = [...new Set([rng.int(1, buf.length - 1), rng.int(1, buf.length - 1)])].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  return out;
}

export function frame(rng: Rng, r: FuzzRequest): Framed {
  let kind = rng.weighted(FRAMINGS);
  if (kind === 'cut-body' && r.body.length === 0) kind = 'cut-head';
  if (kind === 'length-short' && r.body.length === 0) kind = 'honest';
  const isHead = r.method === 'HEAD';
  const base: Header[] = [['Host', 'fuzz.test'], ...r.headers];
  const length = (n: number): Header[] => (n > 0 || ['PUT', 'POST', 'PATCH'].includes(r.method) ? [['Content-Length', String(n)]] : []);
  const close: Header[] = [['Connection', 'close']];
  const read = (segments: Buffer[], expect = 1, heads = [isHead]): Wire => ({ segments, ending: 'read', heads, expect });
  const honest = (wire: Wire): Framed => ({ kind, honest: true, wire, detail: '' });
  const lying = (wire: Wire, detail = ''): Framed => ({ kind, honest: false, wire, detail });

  switch (kind) {
    case 'honest':
      return honest(read([head(r.method, r.target, [...base, ...length(r.body.length), ...close]), r.body]));
    case 'honest-split':
      return honest(read(splitAt(rng, Buffer.concat([head(r.method, r.target, [...base, ...length(r.body.length), ...close]), r.body]))));
    case 'chunked':
      return honest(read([head(r.method, r.target, [...base, ['Transfer-Encoding', 'chunked'], ...close]), chunks(rng, r.body)]));
    case 'http/1.0':
      return honest(read([head(r.method, r.target, [...r.headers, ...length(r.body.length)], 'HTTP/1.0'), r.body]));
    case 'pipelined': {
      const first = head(r.method, r.target, [...base, ...length(r.body.length)]);
      const second = head('GET', Buffer.from('/v2/'), [['Host', 'fuzz.test'], ...close]);
      return honest(read([first, r.body, second], 2, [isHead, false]));
    }
    case 'length-short': {
      // the bytes past the announced length reach the server as the start of another request
      const announced = rng.int(0, r.body.length - 1);
      return lying(read([head(r.method, r.target, [...base, ['Content-Length', String(announced)]]), r.body]), `announced ${announced} of ${r.body.length}`);
    }
    case 'length-long-fin': {
      const announced = r.body.length + rng.pick([1, 100, 100_000]);
      return lying({ segments: [head(r.method, r.target, [...base, ['Content-Length', String(announced)]]), r.body], ending: 'fin', heads: [isHead], expect: 1 }, `announced ${announced} of ${r.body.length}`);
    }
    case 'chunked-bad': {
      const bad = rng.pick(['zz\r\nxx\r\n0\r\n\r\n', '5\r\nabc\r\n0\r\n\r\n', '-1\r\n', 'ffffffffffffffffffff\r\n', '3;\u0000\r\nabc\r\n0\r\n\r\n', '3\r\nabcXX0\r\n\r\n', '0x3\r\nabc\r\n0\r\n\r\n', '3\nabc\n0\n\n']);
      return lying(read([head(r.method, r.target, [...base, ['Transfer-Encoding', 'chunked'], ...close]), Buffer.from(bad, 'latin1')]), JSON.stringify(bad));
    }
    case 'chunked-short-fin': {
      const data = chunks(rng, r.body.length > 0 ? r.body : Buffer.from('abc'));
      const cut = data.subarray(0, rng.int(0, data.length - 1));
      return lying({ segments: [head(r.method, r.target, [...base, ['Transfer-Encoding', 'chunked']]), cut], ending: 'fin', heads: [isHead], expect: 1 }, `${cut.length} of ${data.length} chunked bytes`);
    }
    case 'length-and-chunked':
      return lying(read([head(r.method, r.target, [...base, ['Content-Length', String(r.body.length)], ['Transfer-Encoding', 'chunked'], ...close]), chunks(rng, r.body)]));
    case 'two-lengths':
      return lying(read([head(r.method, r.target, [...base, ['Content-Length', String(r.body.length)], ['Content-Length', String(r.body.length + 1)], ...close]), r.body]));
    case 'cut-head': {
      const h = head(r.method, r.target, [...base, ...length(r.body.length)]);
      const at = rng.int(0, h.length - 1);
      const ending = rng.pick(['close', 'reset', 'fin'] as const);
      return lying({ segments: [h.subarray(0, at)], ending, heads: [isHead], expect: 1 }, `${ending} after ${at} of ${h.length} head bytes`);
    }
    case 'cut-body': {
      const at = rng.int(0, r.body.length - 1);
      const ending = rng.pick(['close', 'reset', 'fin'] as const);
      const h = head(r.method, r.target, [...base, ['Content-Length', String(r.body.length)]]);
      return lying({ segments: [h, r.body.subarray(0, at)], ending, heads: [isHead], expect: 1, pauseMs: rng.pick([0, 0, 5, 30]) }, `${ending} after ${at} of ${r.body.length} body bytes`);
    }
  }
}
