// A BlobStore that times every operation of the store it wraps, by driver and
// operation, and counts the ones that fail. A stream a driver returns is timed
// until it ends, errs or is destroyed, since that is when the work is done.
// Not found is an answer (a HEAD of an absent blob), not a failure of storage.
import type { Readable } from 'node:stream';
import { StorageError, type BlobKey, type BlobStore, type ByteRange, type StoredObjectInfo, type UploadState } from './blob-store.ts';

/** Where the measurements go (src/observability/metrics.ts provides it). */
export interface StorageObserver {
  observe(driver: string, operation: string, seconds: number, failed: boolean): void;
}

const INSTRUMENTED = Symbol('instrumented');

export function instrumentStore(inner: BlobStore, observer: StorageObserver): BlobStore {
  // a store already wrapped (main.ts wraps once for the app and the workers) is not timed twice
  if ((inner as { [INSTRUMENTED]?: true })[INSTRUMENTED]) return inner;
  const driver = inner.name;
  const done = (operation: string, started: bigint, err?: unknown) => {
    const failed = err !== undefined && !(err instanceof StorageError && err.kind === 'not_found');
    observer.observe(driver, operation, Number(process.hrtime.bigint() - started) / 1e9, failed);
  };
  const timed = async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    const started = process.hrtime.bigint();
    try {
      const result = await run();
      done(operation, started);
      return result;
    } catch (err) {
      done(operation, started, err);
      throw err;
    }
  };
  const timedStream = async (operation: string, open: () => Promise<Readable>): Promise<Readable> => {
    const started = process.hrtime.bigint();
    let stream: Readable;
    try {
      stream = await open();
    } catch (err) {
      done(operation, started, err);
      throw err;
    }
    let failure: unknown;
    // the reader's own handlers stay in charge; this one only notes that the storage failed,
    // not that the reader destroyed the stream because its client went away (pipeline's way)
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ERR_STREAM_PREMATURE_CLOSE' && err.name !== 'AbortError') failure ??= err;
    });
    stream.once('close', () => done(operation, started, failure));
    return stream;
  };

  const store: BlobStore & { [INSTRUMENTED]: true } = {
    [INSTRUMENTED]: true,
    name: driver,
    stat: (key) => timed('stat', () => inner.stat(key)),
    read: (key, range) => timedStream('read', () => inner.read(key, range)),
    startUpload: (uploadId) => timed('startUpload', () => inner.startUpload(uploadId)),
    appendUpload: (state, body) => timed('appendUpload', () => inner.appendUpload(state, body)),
    readUpload: (state, range) => timedStream('readUpload', () => inner.readUpload(state, range)),
    completeUpload: (state: UploadState, key: BlobKey) => timed('completeUpload', () => inner.completeUpload(state, key)),
    abortUpload: (state) => timed('abortUpload', () => inner.abortUpload(state)),
    delete: (key) => timed('delete', () => inner.delete(key)),
    list: (area) => timedList(area, inner, done),
    quarantine: (key) => timed('quarantine', () => inner.quarantine(key)),
  };
  // optional methods stay absent when the driver has none: callers test for them
  if (inner.copyTo) {
    const copyTo = inner.copyTo.bind(inner);
    store.copyTo = async (key: BlobKey, range: ByteRange | undefined, write: (chunk: Buffer) => Promise<void>) => {
      const started = process.hrtime.bigint();
      // a sink that fails (the client went away) fails the copy, but that is no storage failure
      let sinkFailed = false;
      const sink = (chunk: Buffer) => write(chunk).catch((err: unknown) => {
        sinkFailed = true;
        throw err;
      });
      try {
        await copyTo(key, range, sink);
        done('copyTo', started);
      } catch (err) {
        done('copyTo', started, sinkFailed ? undefined : err);
        throw err;
      }
    };
  }
  if (inner.followUpload) {
    const followUpload = inner.followUpload.bind(inner);
    store.followUpload = (uploadId: string, range: ByteRange) => timed('followUpload', () => followUpload(uploadId, range));
  }
  if (inner.presignedUrl) {
    const presignedUrl = inner.presignedUrl.bind(inner);
    store.presignedUrl = (key: BlobKey) => timed('presignedUrl', () => presignedUrl(key));
  }
  return store;
}

async function* timedList(area: 'objects' | 'uploads' | undefined, inner: BlobStore, done: (operation: string, started: bigint, err?: unknown) => void): AsyncIterable<StoredObjectInfo> {
  const started = process.hrtime.bigint();
  try {
    yield* inner.list(area);
    done('list', started);
  } catch (err) {
    done('list', started, err);
    throw err;
  }
}
