// Test data on disk: random files streamed in (never held whole in memory),
// with their SHA-256 computed on the way.
import { createHash, randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';

const CHUNK = 8 * 1024 * 1024;

export interface DataFile {
  path: string;
  size: number;
  digest: string;
}

export async function makeRandomFile(path: string, size: number): Promise<DataFile> {
  const fh = await open(path, 'w');
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK);
  try {
    for (let written = 0; written < size; ) {
      const n = Math.min(CHUNK, size - written);
      const piece = buf.subarray(0, n);
      randomFillSync(piece);
      hash.update(piece);
      await fh.write(piece, 0, n);
      written += n;
    }
  } finally {
    await fh.close();
  }
  return { path, size, digest: `sha256:${hash.digest('hex')}` };
}

/** The disk's own durable write rate: write `size` bytes in 8 MiB writes, then fsync. */
export async function fsyncedWriteRate(path: string, size: number): Promise<number> {
  const buf = Buffer.alloc(CHUNK, 7);
  const t0 = process.hrtime.bigint();
  const fh = await open(path, 'w');
  try {
    for (let written = 0; written < size; written += CHUNK) await fh.write(buf, 0, Math.min(CHUNK, size - written));
    await fh.sync();
  } finally {
    await fh.close();
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return size / secs;
}
