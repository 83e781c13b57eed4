// Hostile values: NUL bytes, odd unicode, bytes that are no UTF-8, broken percent
// escapes, very long values. As text (to be percent-encoded or put in JSON) and
// as raw bytes (to go on the wire as they are).
import type { Rng } from './prng.ts';

/** Strings that have hurt parsers and databases. */
const ODD_TEXT = [
  '\u0000',
  'a\u0000b',
  '\u0000\u0000\u0000',
  '\ud800', // lone high surrogate
  'x\udc00y', // lone low surrogate
  '\ufffd',
  '\uffff',
  '\ufeff', // BOM
  '\u202e', // right-to-left override
  '\u200b', // zero width space
  'caf\u00e9',
  '\ud83d\ude80',
  '\u0001\u0002\u001f\u007f',
  '\r\n',
  '\t',
  ' ',
  '..',
  '../../etc/passwd',
  '%',
  "'; DROP TABLE tags; --",
  '"',
  '\\',
  '{}',
  '[]',
  'null',
  '-1',
  '99999999999999999999999999',
  '1e400',
  'NaN',
  '0x10',
];

/** Percent escapes, broken and not. */
const ESCAPES = ['%00', '%ZZ', '%', '%E9', '%C0%80', '%ED%A0%80', '%F0%9F%98%80', '%FF%FE', '%2F', '%2e%2e', '%0D%0A', '%25', '%C3%A9', '%EF%BF%BF'];

/** Raw byte sequences: NUL, bytes that are no UTF-8, UTF-8 of odd characters. */
const ODD_BYTES = [
  [0x00],
  [0xff],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x80, 0xae],
  [0xef, 0xbb, 0xbf],
  [0xf0, 0x9f, 0x98, 0x80],
  [0x7f],
  [0x01],
  [0x80],
  [0xfe, 0xff],
].map((b) => Buffer.from(b));

export function oddText(rng: Rng): string {
  if (rng.chance(0.15)) return longText(rng);
  if (rng.chance(0.2)) return rng.pick(ODD_TEXT) + rng.pick(ODD_TEXT);
  return rng.pick(ODD_TEXT);
}

export function longText(rng: Rng): string {
  return rng.pick(['a', '/', 'é', '\u0000', '%', 'ab:', '😀']).repeat(rng.pick([256, 1024, 8192, 70_000]));
}

export function escape(rng: Rng): string {
  return rng.pick(ESCAPES);
}

export function oddBytes(rng: Rng): Buffer {
  return rng.pick(ODD_BYTES);
}

/** A query value: encoded odd text, a raw broken escape, or a plain word. */
export function oddQueryValue(rng: Rng): string {
  return rng.weighted<() => string>([
    [4, () => encodeText(oddText(rng))],
    [3, () => escape(rng) + (rng.chance(0.5) ? escape(rng) : '')],
    [1, () => 'x'.repeat(rng.int(0, 3))],
  ])();
}

/** Percent-encodes text, keeping lone surrogates (which encodeURIComponent refuses) as their UTF-8-less escape. */
export function encodeText(s: string): string {
  let out = '';
  for (const ch of s) {
    if (!ch.isWellFormed()) out += '%ED%A0%80';
    else out += encodeURIComponent(ch);
  }
  return out;
}

/** Inserts the bytes at a random position of the buffer. */
export function insertAt(rng: Rng, buf: Buffer, bytes: Buffer): Buffer {
  const at = rng.int(0, buf.length);
  return Buffer.concat([buf.subarray(0, at), bytes, buf.subarray(at)]);
}

export function randomWord(rng: Rng, len = rng.int(1, 12)): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < len; i++) s += alphabet[rng.int(0, alphabet.length - 1)];
  return s;
}
