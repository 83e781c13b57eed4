// Page-cache writes for the filesystem driver's staged uploads: the path for
// filesystems that refuse O_DIRECT, and for BOLLARD_FS_DIRECT_IO=false
// (direct-io.ts has the other one).
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { chunksOwned, freeChunk } from './owned-chunks.ts';

const WRITE_CHUNK = 1024 * 1024;
const FLUSH_EVERY = 32 * 1024 * 1024;

/**
 * Streams body into the staged file at `path` (open as `fh`) from `position`;
 * returns the bytes written. A chunked upload's appends are each smaller than
 * FLUSH_EVERY, so writeAt never syncs them: an append that crosses a FLUSH_EVERY
 * boundary starts a detached sync, or the whole blob would be flushed at
 * completion while the client waits.
 */
export async function writeBuffered(fh: FileHandle, path: string, body: Readable, position: number): Promise<number> {
  const written = await writeAt(fh, body, position);
  if (Math.floor((position + written) / FLUSH_EVERY) > Math.floor(position / FLUSH_EVERY)) backgroundSync(path);
  return written;
}

/**
 * Streams body into the file at `position`, gathering chunks into ~1 MiB writev
 * calls. While bytes keep arriving, an fdatasync is started every FLUSH_EVERY
 * bytes so the kernel flushes in step with the network instead of all at the
 * final sync (which is what the client would otherwise wait for). The chunks of
 * a body marked with ownChunks() are freed once written.
 */
async function writeAt(fh: FileHandle, body: Readable, position: number): Promise<number> {
  let pos = position;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let sinceFlush = 0;
  let flushing: Promise<void> | null = null;
  const free = chunksOwned(body);
  const flush = async () => {
    if (batchBytes === 0) return;
    const bufs = batch;
    const n = batchBytes;
    batch = [];
    batchBytes = 0;
    let done = 0;
    while (done < n) {
      const { bytesWritten } = await fh.writev(done === 0 ? bufs : remaining(bufs, done), pos + done);
      done += bytesWritten;
    }
    if (free) bufs.forEach(freeChunk);
    pos += n;
    sinceFlush += n;
    if (sinceFlush >= FLUSH_EVERY && !flushing) {
      sinceFlush = 0;
      flushing = fh.datasync().finally(() => {
        flushing = null;
      });
      // awaited before returning; when a write fails first (a full disk) nothing awaits it, and
      // its own failure must not become an unhandled rejection, which would end the process
      flushing.catch(() => undefined);
    }
  };
  for await (const chunk of body) {
    batch.push(chunk as Buffer);
    batchBytes += (chunk as Buffer).length;
    if (batchBytes >= WRITE_CHUNK) await flush();
  }
  await flush();
  await flushing;
  return pos - position;
}

function remaining(bufs: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  let left = skip;
  for (const b of bufs) {
    if (left >= b.length) left -= b.length;
    else {
      out.push(left > 0 ? b.subarray(left) : b);
      left = 0;
    }
  }
  return out;
}

/**
 * Starts writing a staged file's dirty pages back through a descriptor of its own
 * (fdatasync flushes the file, whichever descriptor asks). Failures do not matter:
 * completeUpload syncs before the object becomes visible.
 */
function backgroundSync(path: string): void {
  void open(path, 'r')
    .then((fh) => fh.datasync().finally(() => fh.close()))
    .catch(() => undefined);
}
