// Page-cache writes with write-behind for the filesystem driver's staged uploads:
// the default path (direct-io.ts has the O_DIRECT one, BOLLARD_FS_DIRECT_IO=true).
//
// Why this is the default (bench/RESULTS.md, issue 20): O_DIRECT writes, one in
// flight, are bound by the latency of each write. On a day the virtual disk's
// writes were slow to complete they ran at 63–129 MB/s while page-cache writes
// reached 514 MB/s; on a day they were quick, direct writes ran at 0.9–1.5 GB/s
// and page-cache writes with write-behind at 2.0–2.6 GB/s. Page-cache writes let
// the kernel keep many writes in flight, so they do not depend on the latency.
//
// Write-behind: while bytes arrive, one fdatasync at a time runs on the staged
// file (started every WRITE_BEHIND bytes, and after every append), so the kernel
// writes the blob out in step with the network. The sync at completion, which the
// client waits for, then has little left to flush, and dirty pages never pile up
// to the point where the kernel throttles the writer.
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { chunksOwned, freeChunk } from './owned-chunks.ts';

const WRITE_CHUNK = 1024 * 1024;
/** Bytes written between write-behind starts while one append runs. */
const WRITE_BEHIND = 16 * 1024 * 1024;

/**
 * Streams body into the staged file at `path` (open as `fh`) from `position`,
 * gathering chunks into ~1 MiB writev calls; returns the bytes written. The
 * chunks of a body marked with ownChunks() are freed once written.
 */
export async function writeBuffered(fh: FileHandle, path: string, body: Readable, position: number): Promise<number> {
  let pos = position;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let sinceBehind = 0;
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
    sinceBehind += n;
    if (sinceBehind >= WRITE_BEHIND) {
      sinceBehind = 0;
      writeBehind(path);
    }
  };
  for await (const chunk of body) {
    batch.push(chunk as Buffer);
    batchBytes += (chunk as Buffer).length;
    if (batchBytes >= WRITE_CHUNK) await flush();
  }
  await flush();
  if (pos > position) writeBehind(path);
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

/** Staged files with a write-behind sync running; true: bytes were written since it started. */
const behind = new Map<string, boolean>();

/**
 * Has the staged file's dirty pages written back: starts an fdatasync through a
 * descriptor of its own (fdatasync flushes the file, whichever descriptor asks),
 * or, when one is running, marks the file to be synced again once it ends. At most
 * one runs per file, so a slow disk never has syncs queue up. Failures do not
 * matter (the file may be gone after an abort): completeUpload syncs before the
 * object becomes visible.
 */
function writeBehind(path: string): void {
  if (behind.has(path)) {
    behind.set(path, true);
    return;
  }
  behind.set(path, false);
  void open(path, 'r')
    .then((fh) => fh.datasync().finally(() => fh.close()))
    .catch(() => undefined)
    .finally(() => {
      const again = behind.get(path);
      behind.delete(path);
      if (again) writeBehind(path);
    });
}
