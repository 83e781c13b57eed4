// Test data on disk: random files streamed in (never held whole in memory),
// with their SHA-256 computed on the way.
import { execFileSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import { AlignedBuffers, openDirect } from '../../src/storage/direct-io.ts';

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

/**
 * The disk's own durable write rate as `dd conv=fdatasync` measures it: write
 * `size` bytes through the page cache in 8 MiB writes, then fsync.
 */
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

/**
 * The disk's durable write rate through the page cache with write-behind, as
 * Bollard's page-cache path writes: 1 MiB writes, an fdatasync started (one at a
 * time) every 16 MiB while writing, and a last one at the end.
 */
export async function writeBehindRate(path: string, size: number): Promise<number> {
  const chunk = 1024 * 1024;
  const buf = Buffer.alloc(chunk, 7);
  const t0 = process.hrtime.bigint();
  const fh = await open(path, 'w');
  try {
    let syncing: Promise<void> | null = null;
    for (let written = 0; written < size; written += chunk) {
      await fh.write(buf, 0, Math.min(chunk, size - written), written);
      if ((written + chunk) % (16 * chunk) === 0 && !syncing) syncing = fh.datasync().finally(() => (syncing = null));
    }
    await syncing;
    await fh.datasync();
  } finally {
    await fh.close();
  }
  return size / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/**
 * The disk's durable write rate without the page cache: `size` bytes in 2 MiB
 * O_DIRECT writes, then fsync (what Bollard's filesystem driver does), or null
 * where the filesystem refuses O_DIRECT.
 */
export async function directWriteRate(dir: string, path: string, size: number): Promise<number | null> {
  const buffers = await AlignedBuffers.create(dir, 2 * 1024 * 1024, 1);
  if (!buffers) return null;
  const buf = await buffers.acquire();
  buf.fill(7);
  await writeFile(path, '');
  const t0 = process.hrtime.bigint();
  const fh = await openDirect(path);
  try {
    for (let written = 0; written < size; written += buf.length) await fh.write(buf, 0, buf.length, written);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return size / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** Writes back every dirty page, so no workload pays for the writeback another one left. */
export function settleDisk(): void {
  execFileSync('sync');
}

/** Drops the page cache (needs root), so the next read comes from the disk; false when not allowed. */
export async function dropPageCache(): Promise<boolean> {
  settleDisk();
  try {
    await writeFile('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}
