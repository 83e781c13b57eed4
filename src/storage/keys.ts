// Storage key layout, shared by every driver (the one place it is described).
//
//   [prefix]blobs/blake3/<first two hex chars>/<64 hex chars>   committed objects, written once, never changed
//   [prefix]uploads/<session uuid>                             staged bytes of an upload session
//   [prefix]quarantine/<64 hex chars>.<unix ms>                 an object the scrub found damaged
//
// The filesystem driver keeps a session's bytes in one file at uploads/<uuid>
// under its root directory. S3 cannot append to an object, so the S3 driver keeps
// them as a folder of segment objects, uploads/<uuid>/<start offset>.<nonce>,
// whose concatenation in offset order is the staged bytes (see s3/segments.ts).
// The optional prefix (S3 only) lets several registries or test runs share a bucket.
import type { BlobKey } from './blob-store.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Relative path of a committed object, '/'-separated. */
export function objectPath(key: BlobKey): string {
  return `blobs/blake3/${key.slice(0, 2)}/${key}`;
}

export const OBJECTS_ROOT = 'blobs/blake3/';

/** Relative path of a session's staging (a file or a folder, per driver). */
export function stagingPath(uploadId: string): string {
  if (!UUID.test(uploadId)) throw new Error(`bad upload id ${uploadId}`);
  return `uploads/${uploadId}`;
}

/** The BLAKE3 key a committed object's path names, or null for anything else. */
export function keyFromPath(path: string): BlobKey | null {
  const m = /blobs\/blake3\/([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(path);
  return m && m[2]?.startsWith(m[1] as string) ? (m[2] as BlobKey) : null;
}

export const UPLOADS_ROOT = 'uploads/';

/** Where the scrub moves a damaged object. */
export function quarantinePath(key: BlobKey, at: Date): string {
  return `quarantine/${key}.${at.getTime()}`;
}

/** The upload id a staging path starts with, or null. */
export function uploadIdFromPath(path: string): string | null {
  const m = /uploads\/([0-9a-f-]{36})(\/|$)/.exec(path);
  return m && UUID.test(m[1] as string) ? (m[1] as string) : null;
}
