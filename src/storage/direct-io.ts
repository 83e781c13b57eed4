// Direct I/O (O_DIRECT) for the filesystem driver's staged uploads.
//
// Measured on this project's machines (bench/README figures): writing a blob
// through the page cache and then fdatasync-ing it runs at 170–500 MB/s, while the
// same bytes written with O_DIRECT in 2–4 MiB blocks and then fdatasync-ed run at
// 0.9–1.4 GB/s. Durability is the same: fdatasync still flushes the device's write
// cache and the file's size; O_DIRECT only skips the copy into (and the writeback
// out of) the page cache.
//
// O_DIRECT wants the memory, the file offset and the length aligned. File offsets
// and lengths are kept to multiples of BLOCK. Node cannot say where a buffer lives,
// so the slab's alignment is found once by trial writes to a scratch file.
import { constants } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { chunksOwned, freeChunk } from './owned-chunks.ts';

/** File offsets and lengths of direct writes are multiples of this. */
export const BLOCK = 4096;

const O_DIRECT: number | undefined = (constants as Record<string, number>).O_DIRECT;

/**
 * A fixed slab of aligned buffers shared by all uploads. Its pages become resident
 * only as buffers are used; freed buffers are reused last-in first-out, so a
 * process with one upload at a time touches only the first few.
 */
export class AlignedBuffers {
  readonly size: number;
  private readonly free: Buffer[];
  private readonly waiting: Array<(b: Buffer) => void> = [];

  private constructor(slab: Buffer, size: number) {
    this.size = size;
    this.free = [];
    for (let off = slab.length - size; off >= 0; off -= size) this.free.push(slab.subarray(off, off + size));
  }

  /**
   * A slab of `count` buffers of `size` bytes, or null when the directory's
   * filesystem refuses O_DIRECT (tmpfs before Linux 6.6, some network and FUSE
   * filesystems).
   */
  static async create(dir: string, size: number, count: number): Promise<AlignedBuffers | null> {
    if (O_DIRECT === undefined || size % BLOCK !== 0) return null;
    const raw = Buffer.allocUnsafeSlow(size * count + BLOCK);
    const probe = join(dir, `.direct-io-probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
    let fh: FileHandle;
    try {
      fh = await open(probe, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | O_DIRECT, 0o600);
    } catch (err) {
      if (['EINVAL', 'EOPNOTSUPP', 'ENOTSUP'].includes((err as NodeJS.ErrnoException).code ?? '')) return null;
      throw err;
    }
    try {
      // Two blocks, so a write that crosses a page boundary is tried too.
      for (let shift = 0; shift < BLOCK; shift += 16) {
        try {
          await fh.write(raw, shift, 2 * BLOCK, 0);
          return new AlignedBuffers(raw.subarray(shift, shift + size * count), size);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
        }
      }
      return null;
    } finally {
      await fh.close();
      await unlink(probe).catch(() => undefined);
    }
  }

  /** A buffer, waiting for one when all are in use. */
  acquire(): Promise<Buffer> {
    const b = this.free.pop();
    return b ? Promise.resolve(b) : new Promise((resolve) => this.waiting.push(resolve));
  }

  /** A buffer if one is free now. */
  tryAcquire(): Buffer | null {
    return this.free.pop() ?? null;
  }

  release(b: Buffer): void {
    const next = this.waiting.shift();
    if (next) next(b);
    else this.free.push(b);
  }
}

/** Opens a staged file for direct writes. */
export function openDirect(path: string): Promise<FileHandle> {
  return open(path, constants.O_RDWR | (O_DIRECT as number));
}

/** Below this, bytes wait in the buffer for more rather than going out in a write of their own. */
const MIN_WRITE = 256 * 1024;

/**
 * Streams body into the file at `position` with direct writes. One write is in
 * flight at a time (ext4 serialises direct writes that extend a file anyway);
 * whatever arrived while it ran goes out in the next one, so writes grow when the
 * disk is the slower side and little is left to write when the body ends. A write
 * that would end inside a block is padded to the block and the file cut back to
 * the true end; an append that starts inside a block first reads that block's
 * head back.
 *
 * An upload takes one buffer (waiting when none is free) and a second only if
 * one is free at once, so uploads never wait on each other while holding one.
 * With one buffer it fills the buffer and writes it, without overlap.
 *
 * The chunks of a body marked with ownChunks() are freed once copied. `stats.busy`
 * gains the seconds writes were in flight (write-path.ts measures the disk by it).
 */
export async function writeDirect(fh: FileHandle, body: Readable, position: number, buffers: AlignedBuffers, stats?: { busy: number }): Promise<number> {
  let fill = await buffers.acquire();
  let spare = buffers.tryAcquire();
  let writing: Promise<void> | null = null;
  let busy = false;
  const size = buffers.size;
  const free = chunksOwned(body);
  let filePos = position - (position % BLOCK);
  let used = position - filePos;

  /** Starts writing the whole blocks of `fill` and carries the partial block over to the spare buffer. */
  const startWrite = () => {
    const whole = used - (used % BLOCK);
    const out = fill;
    writing = writeAll(fh, out, whole, filePos).finally(() => {
      busy = false;
    });
    writing.catch(() => undefined); // awaited before the next write or at the end
    busy = true;
    const next = spare as Buffer;
    out.copy(next, 0, whole, used);
    spare = out;
    fill = next;
    filePos += whole;
    used -= whole;
  };

  try {
    if (used > 0) {
      const { bytesRead } = await fh.read(fill, 0, BLOCK, filePos);
      if (bytesRead < used) throw new Error(`staged file ends at ${filePos + bytesRead}, before the upload's offset ${position}`);
    }
    for await (const chunk of body as AsyncIterable<Buffer>) {
      for (let off = 0; off < chunk.length; ) {
        const n = chunk.copy(fill, used, off);
        off += n;
        used += n;
        if (used === size) {
          if (spare) {
            await writing;
            startWrite();
          } else {
            await writeAll(fh, fill, size, filePos);
            filePos += size;
            used = 0;
          }
        }
      }
      if (free) freeChunk(chunk);
      if (spare && !busy && used >= MIN_WRITE) {
        await writing; // settled already: surfaces its error
        startWrite();
      }
    }
    await writing;
    writing = null;
    const end = filePos + used;
    if (end === position) return 0;
    if (used > 0) {
      const padded = Math.ceil(used / BLOCK) * BLOCK;
      fill.fill(0, used, padded);
      await writeAll(fh, fill, padded, filePos);
      if (padded !== used) await fh.truncate(end);
    }
    return end - position;
  } finally {
    await (writing as Promise<void> | null)?.catch(() => undefined);
    buffers.release(fill);
    if (spare) buffers.release(spare);
  }

  async function writeAll(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<void> {
    const t0 = process.hrtime.bigint();
    await writeAllOf(fh, buf, length, position);
    if (stats) stats.busy += Number(process.hrtime.bigint() - t0) / 1e9;
  }
}

async function writeAllOf(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesWritten } = await fh.write(buf, done, length - done, position + done);
    if (bytesWritten === 0) throw new Error('direct write made no progress');
    done += bytesWritten;
  }
}
