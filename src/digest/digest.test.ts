import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { blake3Hex } from './blake3.ts';
import { tryParseDigest } from './digest.ts';
import { DualHasher } from './hasher.ts';

describe('digest parsing', () => {
  test('accepts sha256 and sha512 with exact lower-case hex', () => {
    expect(tryParseDigest(`sha256:${'a'.repeat(64)}`)?.algorithm).toBe('sha256');
    expect(tryParseDigest(`sha512:${'b'.repeat(128)}`)?.algorithm).toBe('sha512');
  });
  test.each([`sha256:${'a'.repeat(63)}`, `sha256:${'A'.repeat(64)}`, `sha512:${'a'.repeat(64)}`, `md5:${'a'.repeat(32)}`, 'sha256', ':abc', ''])(
    'rejects %s',
    (text) => {
      expect(tryParseDigest(text)).toBeNull();
    },
  );
});

describe('one-pass hashing', () => {
  test('BLAKE3 known answers', () => {
    expect(blake3Hex(Buffer.alloc(0))).toBe('af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262');
    expect(blake3Hex(Buffer.from('abc'))).toBe('6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85');
  });

  test('DualHasher gives the API digest and BLAKE3 of the same bytes, fed in pieces', () => {
    const data = Buffer.from('x'.repeat(100_000));
    const h = new DualHasher('sha512');
    for (let i = 0; i < data.length; i += 777) h.update(data.subarray(i, i + 777));
    const r = h.finish();
    expect(r.digest.text).toBe(`sha512:${createHash('sha512').update(data).digest('hex')}`);
    expect(r.blake3.toString('hex')).toBe(blake3Hex(data));
    expect(r.size).toBe(data.length);
  });
});
