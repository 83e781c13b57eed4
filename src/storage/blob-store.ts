// The storage boundary. A BlobStore holds bytes only: immutable objects keyed by
// the BLAKE3 digest of their content, plus staged bytes of upload sessions.
// Which objects are live is decided by PostgreSQL, never by the store.
import type { Readable } from 'node:stream';

/** Lower-case hex BLAKE3 digest of an object's content. */
export type BlobKey = string & { readonly __brand: 'BlobKey' };

export function blobKey(blake3: Buffer | string): BlobKey {
  return (typeof blake3 === 'string' ? blake3 : blake3.toString('hex')) as BlobKey;
}

/** Inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Driver-owned state of an upload session. The registry saves it (as CBOR) in
 * the session row after every append, so any process can continue the session.
 */
export interface UploadState {
  readonly uploadId: string;
  /** Bytes staged so far. */
  readonly size: number;
  readonly driver?: Record<string, unknown>;
}

export interface StoredObjectInfo {
  /** The BLAKE3 key of an object; the upload id when listing uploads. */
  key: BlobKey;
  size: number;
  modified: Date;
}

export interface BlobStore {
  readonly name: string;
  stat(key: BlobKey): Promise<{ size: number } | null>;
  read(key: BlobKey, range?: ByteRange): Promise<Readable>;
  /**
   * Optional fast path for sending an object: the driver reads into buffers it
   * reuses, hands each to `write`, and refills a buffer only after the promise
   * `write` returned for it has settled (the sink no longer needs the bytes).
   */
  copyTo?(key: BlobKey, range: ByteRange | undefined, write: (chunk: Buffer) => Promise<void>): Promise<void>;
  startUpload(uploadId: string): Promise<UploadState>;
  /**
   * Appends body at state.size. Staged bytes need not be durable yet: completeUpload makes the
   * object durable, and the digest verified before it catches any staged byte a crash lost.
   */
  appendUpload(state: UploadState, body: Readable): Promise<UploadState>;
  readUpload(state: UploadState, range: ByteRange): Promise<Readable>;
  /**
   * Optional: reads what is already final of [range] of a staging that another
   * process may still be appending to (possibly nothing yet); null when the staging
   * is not there. The fs driver has it; S3 stages in parts readable only once complete.
   */
  followUpload?(uploadId: string, range: ByteRange): Promise<Readable | null>;
  /** Makes the staged bytes the object `key` (idempotent when it already exists) and drops the staging. */
  completeUpload(state: UploadState, key: BlobKey): Promise<void>;
  /** Drops a session's staged bytes; needs only state.uploadId, so sweeps can drop orphans. */
  abortUpload(state: UploadState): Promise<void>;
  delete(key: BlobKey): Promise<void>;
  /** Committed objects, or the staged uploads (key = upload id), for sweeps. */
  list(area?: 'objects' | 'uploads'): AsyncIterable<StoredObjectInfo>;
  /** Moves a damaged object out of the way (kept for inspection under quarantine/), or does nothing when it is gone. */
  quarantine(key: BlobKey): Promise<void>;
  /** Optional: a URL clients may fetch the object from directly (a redirect), or null. */
  presignedUrl?(key: BlobKey): Promise<string | null>;
}

/**
 * not_found: no such object or staging; unavailable: storage cannot be reached or
 * did not answer in time (worth retrying soon); full: no space or quota left for
 * the bytes (retrying helps only once space is freed); io: anything else.
 */
export type StorageErrorKind = 'not_found' | 'unavailable' | 'full' | 'io';

/** Drivers throw these, never HTTP errors; the registry decides what the client sees. */
export class StorageError extends Error {
  readonly kind: StorageErrorKind;
  constructor(kind: StorageErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
    this.kind = kind;
  }
}
