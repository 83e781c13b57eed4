import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, test } from 'vitest';
import { HashPool } from './hash-pool.ts';
import { DualHasher, type StreamHasher } from './hasher.ts';

const MiB = 1 << 20;
const pools: HashPool[] = [];
afterAll(() => Promise.all(pools.map((p) => p.stop())));

function pool(threads: number, slots?: number): HashPool {
  const p = new HashPool(threads, slots);
  pools.push(p);
  return p;
}

function reference(algorithm: 'sha256' | 'sha512', data: Buffer) {
  const h = new DualHasher(algorithm);
  h.update(data);
  return h.finish();
}

async function feed(h: StreamHasher, data: Buffer, piece: number): Promise<void> {
  for (let i = 0; i < data.length; i += piece) await h.write(data.subarray(i, i + piece));
}

describe('hashing on worker threads', () => {
  test.each([0, 1, MiB - 1, MiB, MiB + 1, 3.5 * MiB])('%i bytes give the same SHA-256 and BLAKE3 as the main thread', async (size) => {
    const data = randomBytes(size);
    const h = pool(1).hasher('sha256');
    await feed(h, data, 65_536 - 7);
    expect(await h.finish()).toEqual(reference('sha256', data));
  });

  test('SHA-512, with the kept bytes handed on in between writes', async () => {
    const data = randomBytes(2 * MiB + 12_345);
    const h = pool(1).hasher('sha512');
    for (const [a, b] of [[0, 1000], [1000, MiB + 3], [MiB + 3, data.length]] as const) {
      await feed(h, data.subarray(a, b), 40_000);
      h.flush();
    }
    expect(h.size).toBe(data.length);
    expect(await h.finish()).toEqual(reference('sha512', data));
  });

  test('more hashers than slots, interleaved on two threads: writers wait for slots and every result is right', async () => {
    const p = pool(2, 2);
    const inputs = Array.from({ length: 12 }, (_, i) => randomBytes(3 * MiB + i * 999));
    const hashers = inputs.map(() => p.hasher('sha256'));
    let waited = 0;
    for (let off = 0; off < 4 * MiB; off += MiB) {
      await Promise.all(
        hashers.map((h, i) => {
          const chunk = (inputs[i] as Buffer).subarray(off, off + MiB);
          const wait = chunk.length > 0 ? h.write(chunk) : undefined;
          if (wait) waited++;
          return wait;
        }),
      );
    }
    expect(waited).toBeGreaterThan(0);
    const results = await Promise.all(hashers.map((h) => h.finish()));
    results.forEach((r, i) => expect(r).toEqual(reference('sha256', inputs[i] as Buffer)));
  });

  test('a hasher left idle with a partly filled slot hands it on, so others do not wait for ever', async () => {
    const p = pool(1, 1);
    const idle = p.hasher('sha256');
    await idle.write(Buffer.from('a few bytes, then nothing for a while'));
    const busy = p.hasher('sha256');
    const data = randomBytes(3 * MiB);
    await feed(busy, data, 100_000);
    expect(await busy.finish()).toEqual(reference('sha256', data));
    expect(await idle.finish()).toEqual(reference('sha256', Buffer.from('a few bytes, then nothing for a while')));
  });

  test('a finished or disposed hasher takes no more bytes', async () => {
    const p = pool(1);
    const a = p.hasher('sha256');
    await a.finish();
    expect(() => a.write(Buffer.from('x'))).toThrow(/finished/);
    const b = p.hasher('sha256');
    b.dispose();
    expect(() => b.write(Buffer.from('x'))).toThrow(/finished/);
  });

  test('when a worker dies its hashers fail, its slots come back, and new hashers work', async () => {
    const p = pool(1, 2);
    const doomed = p.hasher('sha256');
    await doomed.write(randomBytes(2 * MiB));
    await p.stop();
    await expect(doomed.finish()).rejects.toThrow(/hash worker/);
    const data = randomBytes(5 * MiB);
    const h = p.hasher('sha256');
    await feed(h, data, MiB);
    expect(await h.finish()).toEqual(reference('sha256', data));
  });
});
