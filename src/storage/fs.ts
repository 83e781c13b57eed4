// Filesystem driver. Paths under the root follow the key layout of keys.ts.
// An object is first staged under uploads/ (with direct writes where the
// filesystem allows them and the disk keeps up with them, else through the page
// cache with write-behind: write-path.ts chooses), fsynced, then renamed into blobs/ and
// the directory fsynced, so a crash leaves either the whole object or none.
// A full disk (ENOSPC, or EDQUOT for a quota) is StorageError 'full', wherever it
// strikes: creating the staging, writing it, syncing it, or making its directory
// in blobs/. An append that runs out of space gives back what it wrote past the
// session's offset at once, so the session resumes where it was once there is room.
import { mkdir, open, opendir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  blobKey,
  StorageError,
  type BlobKey,
  type BlobStore,
  type ByteRange,
  type StoredObjectInfo,
  type UploadState,
} from './blob-store.ts';
import { writeBuffered } from './buffered-io.ts';
import { copyRange, failure, fsyncDir, ioError, isNotFound, openReadStream } from './fs-files.ts';
import { AlignedBuffers, BLOCK, openDirect, writeDirect } from './direct-io.ts';
import { objectPath, quarantinePath } from './keys.ts';
import { seconds, WritePath, type WritePathStatus } from './write-path.ts';

/** Direct-write buffers: 2 MiB each, 8 shared by all uploads (one slab, resident only as used); more uploads wait for one. */
const DIRECT_BUFFER = 2 * 1024 * 1024;
const DIRECT_BUFFERS = 8;

export interface FsStoreOptions {
  /**
   * Stage uploads with O_DIRECT writes where the filesystem allows it and the disk
   * keeps up with them, measured at start-up and as uploads run (default true);
   * false: always through the page cache.
   */
  directIo?: boolean;
  /** Told when uploads switch between direct and page-cache writes, with the rates measured. */
  onWritePathSwitch?: (status: Readonly<WritePathStatus>) => void;
  /** How many direct-write buffers all uploads share (default 8). */
  directBuffers?: number;
}

export class FsBlobStore implements BlobStore {
  readonly name = 'fs';
  private readonly root: string;
  private readonly options: FsStoreOptions;
  /** undefined: not probed yet (the disk was full when init tried). */
  private direct: AlignedBuffers | null | undefined = null;
  private probing: Promise<AlignedBuffers | null> | null = null;
  private writePath: WritePath | null = null;

  constructor(root: string, options: FsStoreOptions = {}) {
    this.root = root;
    this.options = options;
  }

  async init(): Promise<void> {
    await mkdir(join(this.root, 'blobs', 'blake3'), { recursive: true });
    await mkdir(join(this.root, 'uploads'), { recursive: true });
    if (this.options.directIo !== false) await this.probeDirect().catch(failure);
  }

  /**
   * Finds out whether the filesystem takes direct writes. The probe writes a small
   * file, which a full disk refuses: the store then starts anyway (pulls need no
   * space) and probes again on the next upload.
   */
  private probeDirect(): Promise<AlignedBuffers | null> {
    this.probing ??= AlignedBuffers.create(join(this.root, 'uploads'), DIRECT_BUFFER, this.options.directBuffers ?? DIRECT_BUFFERS).then(
      async (buffers) => {
        if (buffers) {
          const path = new WritePath(join(this.root, 'uploads'), buffers, this.options.onWritePathSwitch);
          await path.start();
          this.writePath = path;
        }
        return (this.direct = buffers);
      },
      (err: unknown) => {
        if (ioError(err).kind !== 'full') throw err;
        this.direct = undefined;
        return null;
      },
    ).finally(() => {
      this.probing = null; // one probe at a time, however many uploads ask
    });
    return this.probing;
  }

  /** Whether uploads may be staged with direct writes (asked for, and the filesystem allows it). */
  get directIo(): boolean {
    return !!this.direct;
  }

  /** How uploads are staged now, and the disk rates the choice rests on; null: never direct. */
  get writePathStatus(): Readonly<WritePathStatus> | null {
    return this.direct ? (this.writePath?.status ?? null) : null;
  }

  private objectPath(key: BlobKey): string {
    return join(this.root, objectPath(key));
  }

  private stagingPath(uploadId: string): string {
    if (!/^[0-9a-f-]{36}$/.test(uploadId)) throw new StorageError('io', `bad upload id ${uploadId}`);
    return join(this.root, 'uploads', uploadId);
  }

  async stat(key: BlobKey): Promise<{ size: number } | null> {
    try {
      const s = await stat(this.objectPath(key));
      return { size: s.size };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw ioError(err);
    }
  }

  async read(key: BlobKey, range?: ByteRange): Promise<Readable> {
    return openReadStream(this.objectPath(key), range);
  }

  async copyTo(key: BlobKey, range: ByteRange | undefined, write: (chunk: Buffer) => Promise<void>): Promise<void> {
    const fh = await open(this.objectPath(key), 'r').catch((err: unknown) => {
      throw isNotFound(err) ? new StorageError('not_found', `no object ${key}`) : ioError(err);
    });
    try {
      const end = range ? range.end : (await fh.stat()).size - 1;
      await copyRange(fh, range?.start ?? 0, end, write);
    } finally {
      await fh.close();
    }
  }

  async startUpload(uploadId: string): Promise<UploadState> {
    const fh = await open(this.stagingPath(uploadId), 'wx').catch(failure);
    await fh.close().catch(failure);
    return { uploadId, size: 0 };
  }

  async appendUpload(state: UploadState, body: Readable): Promise<UploadState> {
    const path = this.stagingPath(state.uploadId);
    const buffers = this.direct === undefined ? await this.probeDirect().catch(failure) : this.direct;
    const direct = buffers && (!this.writePath || this.writePath.mode() === 'direct') ? buffers : null;
    const fh = await (direct ? openDirect(path) : open(path, 'r+')).catch((err: unknown) => {
      throw isNotFound(err) ? new StorageError('not_found', `upload ${state.uploadId} has no staged bytes`) : ioError(err);
    });
    let written: number;
    try {
      // Positional writes at the committed offset: bytes a failed earlier attempt
      // left past it are overwritten, or cut off when the upload completes.
      // No sync per append: completeUpload syncs before the object becomes
      // visible, and staged bytes lost in a crash can only fail the final digest
      // check (the upload is refused), never make a bad blob.
      const t0 = process.hrtime.bigint();
      if (direct) {
        const stats = { busy: 0 };
        written = await writeDirect(fh, body, state.size, direct, stats);
        this.writePath?.reportDirect(written, stats.busy, seconds(t0));
      } else {
        written = await writeBuffered(fh, path, body, state.size);
        this.writePath?.reportBuffered(written, seconds(t0));
      }
    } catch (err) {
      const e = ioError(err);
      // Out of space: free what this attempt wrote past the offset now, not when the session ends.
      if (e.kind === 'full') await fh.truncate(state.size).catch(() => undefined);
      await fh.close().catch(() => undefined);
      throw e;
    }
    await fh.close().catch(failure);
    return { uploadId: state.uploadId, size: state.size + written };
  }

  async readUpload(state: UploadState, range: ByteRange): Promise<Readable> {
    return openReadStream(this.stagingPath(state.uploadId), range);
  }

  /**
   * An append writes in order, so what lies below the staging's end is final,
   * except its last block while that may be a direct write's padding (direct-io.ts
   * pads a write to the block, then cuts the file back): that block waits.
   */
  async followUpload(uploadId: string, range: ByteRange): Promise<Readable | null> {
    const path = this.stagingPath(uploadId);
    const size = await stat(path).then((s) => s.size, (err: unknown) => {
      if (isNotFound(err)) return null;
      throw ioError(err);
    });
    if (size === null) return null;
    const end = Math.min(range.end, (size % BLOCK === 0 ? size - BLOCK : size) - 1);
    if (end < range.start) return Readable.from([]);
    return openReadStream(path, { start: range.start, end }).catch((err: unknown) => {
      if (err instanceof StorageError && err.kind === 'not_found') return null; // committed or dropped meanwhile
      throw err;
    });
  }

  /**
   * Any failure leaves the staging as it was (the session may try again) and
   * blobs/ without the object, or, when only the final directory sync failed,
   * with the whole object, which no row references yet (collected as garbage).
   */
  async completeUpload(state: UploadState, key: BlobKey): Promise<void> {
    const staged = this.stagingPath(state.uploadId);
    const target = this.objectPath(key);
    if (await this.stat(key)) {
      await rm(staged, { force: true }).catch(failure);
      return;
    }
    const fh = await open(staged, 'r+').catch((err: unknown) => {
      throw isNotFound(err) ? new StorageError('not_found', `upload ${state.uploadId} has no staged bytes`) : ioError(err);
    });
    try {
      await fh.truncate(state.size);
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw ioError(err);
    }
    await fh.close().catch(failure);
    const dir = join(this.root, 'blobs', 'blake3', key.slice(0, 2));
    await mkdir(dir, { recursive: true }).catch(failure);
    await rename(staged, target).catch(failure);
    await fsyncDir(dir).catch(failure);
  }

  async abortUpload(state: UploadState): Promise<void> {
    await rm(this.stagingPath(state.uploadId), { force: true }).catch(failure);
  }

  async delete(key: BlobKey): Promise<void> {
    await unlink(this.objectPath(key)).catch((err: unknown) => {
      if (!isNotFound(err)) throw ioError(err);
    });
  }

  async *list(area: 'objects' | 'uploads' = 'objects'): AsyncIterable<StoredObjectInfo> {
    if (area === 'uploads') {
      for await (const entry of await opendir(join(this.root, 'uploads'))) {
        if (!entry.isFile() || !/^[0-9a-f-]{36}$/.test(entry.name)) continue;
        const s = await stat(join(this.root, 'uploads', entry.name)).catch(() => null);
        if (s) yield { key: blobKey(entry.name), size: s.size, modified: s.mtime };
      }
      return;
    }
    const base = join(this.root, 'blobs', 'blake3');
    for await (const prefix of await opendir(base)) {
      if (!prefix.isDirectory()) continue;
      for await (const entry of await opendir(join(base, prefix.name))) {
        if (!entry.isFile() || !/^[0-9a-f]{64}$/.test(entry.name)) continue;
        const s = await stat(join(base, prefix.name, entry.name)).catch(() => null);
        if (s) yield { key: blobKey(entry.name), size: s.size, modified: s.mtime };
      }
    }
  }

  async quarantine(key: BlobKey): Promise<void> {
    const target = join(this.root, quarantinePath(key, new Date()));
    await mkdir(join(this.root, 'quarantine'), { recursive: true });
    await rename(this.objectPath(key), target).catch((err: unknown) => {
      if (!isNotFound(err)) throw ioError(err);
    });
    await fsyncDir(join(this.root, 'blobs', 'blake3', key.slice(0, 2)));
  }
}
