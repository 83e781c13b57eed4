// Mutations any request may get on top of what its endpoint generator made:
// hostile bytes in the target, huge or odd headers, a body swapped for noise.
import { encodeText, escape, insertAt, longText, oddBytes, oddText, randomWord } from './garbage.ts';
import type { Rng } from './prng.ts';
import type { FuzzRequest } from './request.ts';

const MUTATIONS: Array<[number, string, (rng: Rng, r: FuzzRequest) => void]> = [
  [3, 'raw odd bytes in the target', (rng, r) => (r.target = insertAt(rng, r.target, oddBytes(rng)))],
  [3, 'escape in the target', (rng, r) => (r.target = insertAt(rng, r.target, Buffer.from(escape(rng))))],
  [2, 'odd query parameter', (rng, r) => (r.target = Buffer.concat([r.target, Buffer.from(`${r.target.includes('?') ? '&' : '?'}${randomWord(rng)}=${encodeText(oddText(rng))}`)]))],
  [1, 'absolute-form target', (rng, r) => (r.target = Buffer.concat([Buffer.from(rng.pick(['http://127.0.0.1', 'http://fuzz.test:5000', 'http://x:99999', 'http://[', 'http://[::1', 'https://u@h', 'http:']), 'latin1'), r.target]))],
  [1, 'long target', (rng, r) => (r.target = Buffer.concat([r.target, Buffer.from(`${r.target.includes('?') ? '&' : '?'}x=${encodeText(longText(rng))}`)]))],
  [2, 'huge header', (rng, r) => r.headers.push(['X-Fuzz', 'h'.repeat(rng.pick([1024, 8000, 15_000, 17_000, 70_000]))])],
  [2, 'raw odd bytes in a header', (rng, r) => r.headers.push([rng.pick(['X-Fuzz', 'User-Agent', 'Accept', 'Docker-Upload-UUID']), Buffer.concat([Buffer.from('v'), oddBytes(rng), Buffer.from('w')])])],
  [1, 'odd unicode in a header', (rng, r) => r.headers.push(['X-Fuzz', Buffer.from(oddText(rng), 'utf8')])],
  [1, 'odd header name', (rng, r) => r.headers.push([rng.pick(['Bad Header', 'X-\u0000', ':', 'X-Ü', '', 'Content-Length ']), 'x'])],
  [1, 'many headers', (rng, r) => { for (let i = 0; i < rng.pick([50, 200, 2100]); i++) r.headers.push([`X-F${i}`, 'x']); }],
  [1, 'odd Content-Type', (rng, r) => r.headers.push(['Content-Type', Buffer.from(rng.pick(['', ';', 'a/b; charset=\u0000', oddText(rng), 'application/vnd.oci.image.manifest.v1+json; charset=utf-16']), 'utf8')])],
  [1, 'bogus Content-Range', (rng, r) => r.headers.push(['Content-Range', Buffer.from(rng.pick(['bytes */*', '0-', '18446744073709551616-18446744073709551617', '1-0', oddText(rng)]), 'utf8')])],
  [1, 'bogus Range', (rng, r) => r.headers.push(['Range', Buffer.from(rng.pick(['bytes=0-0,0-0,0-0', 'bytes=--1', 'bytes=0-18446744073709551616', oddText(rng)]), 'utf8')])],
  [1, 'Expect: 100-continue', (_rng, r) => r.headers.push(['Expect', '100-continue'])],
  [1, 'odd Expect', (rng, r) => r.headers.push(['Expect', rng.pick(['200-ok', 'x'])])],
  [1, 'odd Host', (rng, r) => r.headers.push(['Host', Buffer.from(rng.pick(['', 'a b', 'x:99999', oddText(rng)]), 'utf8')])],
  [1, 'X-Forwarded-For junk', (rng, r) => r.headers.push(['X-Forwarded-For', Buffer.from(rng.pick(['1.2.3.4, 5.6.7.8', 'not-an-ip', oddText(rng), '::1']), 'utf8')])],
  [2, 'body replaced with noise', (rng, r) => (r.body = rng.bytes(rng.pick([1, 100, 5000])))],
  [1, 'odd Transfer-Encoding', (rng, r) => r.headers.push(['Transfer-Encoding', rng.pick(['gzip', 'identity', 'chunked, gzip', 'x'])])],
];

/** Applies no mutation most of the time, else one or two; notes what was done. */
export function mutate(rng: Rng, r: FuzzRequest, rate: number): void {
  if (!rng.chance(rate)) return;
  const n = rng.chance(0.75) ? 1 : 2;
  for (let i = 0; i < n; i++) {
    const [, what, apply] = rng.weighted(MUTATIONS.map((m) => [m[0], m] as const));
    apply(rng, r);
    r.notes.push(what);
  }
}
