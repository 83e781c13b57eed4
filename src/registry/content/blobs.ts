import type { Readable } from 'node:stream';
import type { Digest } from '../../digest/digest.ts';
import { findBlob, findBlobLinkedIn, findLinkedBlob, linkBlob, lockBlob, lockLink, unlinkBlob, type BlobRow } from '../../db/blobs.ts';
import { appendEvent } from '../../db/events.ts';
import { absentNamesOfBlob, attachBlob } from '../../db/manifest-absent.ts';
import { ensureRepository, findRepository, lockRepositoryForWrite } from '../../db/repositories.ts';
import { RegistryError } from '../../errors/codes.ts';
import { blobKey, StorageError, type ByteRange } from '../../storage/blob-store.ts';
import type { RegistryContext } from '../context.ts';
import { BLOB_METHODS, referencedError } from './referenced.ts';
import type { RepoName } from '../../shared/names.ts';

export interface BlobInfo {
  digest: Digest;
  size: number;
  row: BlobRow;
}

/** The blob if this repository links it; blobs elsewhere in the registry stay invisible. */
export async function statBlob(ctx: RegistryContext, name: RepoName, digest: Digest): Promise<BlobInfo> {
  const row = await findLinkedBlob(ctx.pool, name, digest);
  if (!row) throw new RegistryError('BLOB_UNKNOWN', { digest: digest.text });
  return { digest, size: row.size, row };
}

/**
 * Sends the blob's bytes (or a range) to `write`, awaiting each write before the
 * next, so the sink's pace sets the read pace.
 */
export async function sendBlob(ctx: RegistryContext, blob: BlobInfo, range: ByteRange | undefined, write: (chunk: Buffer) => Promise<void>): Promise<void> {
  const key = blobKey(blob.row.blake3);
  try {
    if (ctx.store.copyTo) {
      await ctx.store.copyTo(key, range, write);
      return;
    }
    const stream: Readable = await ctx.store.read(key, range);
    for await (const chunk of stream) await write(chunk as Buffer);
  } catch (err) {
    if (err instanceof StorageError && err.kind === 'not_found') {
      throw new RegistryError('UNKNOWN', `blob ${blob.digest.text} is recorded but its bytes are missing from storage`);
    }
    throw err;
  }
}

/** A URL the client may fetch the blob from directly (S3 with redirects on), or null. */
export async function blobRedirect(ctx: RegistryContext, blob: BlobInfo): Promise<string | null> {
  if (!ctx.store.presignedUrl) return null;
  return ctx.store.presignedUrl(blobKey(blob.row.blake3));
}

/**
 * Links an existing blob into `name` without moving bytes. With `from`, only a
 * blob that repository links is mounted; without it (automatic mount) any blob
 * the registry stores, or with token auth (`visibleIn`: regexes of the
 * repositories the caller may pull) only a blob one of those links, so nobody
 * learns of a blob they could not already read. False when nothing was mounted.
 */
export async function mountBlob(ctx: RegistryContext, name: RepoName, digest: Digest, from: RepoName | null, visibleIn: readonly string[] | null = null): Promise<boolean> {
  let row: BlobRow | null;
  if (from !== null) {
    row = await findLinkedBlob(ctx.pool, from, digest);
  } else {
    if (!ctx.options.autoMount) return false;
    if (visibleIn !== null && visibleIn.length === 0) return false;
    row = visibleIn === null ? await findBlob(ctx.pool, digest) : await findBlobLinkedIn(ctx.pool, digest, visibleIn);
  }
  if (!row) return false;
  const stored = await ctx.store.stat(blobKey(row.blake3));
  if (!stored) return false;
  const blobId = row.id;
  const blake3 = row.blake3;
  const size = row.size;
  return ctx.pool.transaction(async (tx) => {
    const repositoryId = await ensureRepository(tx, name);
    const waiting = await absentNamesOfBlob(tx, repositoryId, digest.text, blake3);
    if (waiting.length > 0) await lockRepositoryForWrite(tx, repositoryId);
    // collected since it was looked up: the client uploads it instead
    if ((await lockBlob(tx, { id: blobId })) === null) return false;
    if (await linkBlob(tx, repositoryId, blobId)) {
      await appendEvent(tx, { kind: 'blob.mount', repository: name, digest: digest.text, ...(from ? { from } : {}) });
    }
    if (waiting.length > 0) await attachBlob(tx, repositoryId, { id: blobId, size, names: waiting });
    return true;
  });
}

/** Unlinks the blob from the repository. A blob that manifests of the repository still list is refused. */
export async function deleteBlob(ctx: RegistryContext, name: RepoName, digest: Digest): Promise<void> {
  if (!ctx.options.deleteEnabled) throw new RegistryError('UNSUPPORTED', 'deletes are disabled on this registry');
  const repositoryId = await findRepository(ctx.pool, name);
  if (repositoryId === null) throw new RegistryError('BLOB_UNKNOWN', { digest: digest.text });
  await ctx.pool.transaction(async (tx) => {
    await lockBlob(tx, { digest }); // the lock order: blobs before repository_blobs
    const link = await lockLink(tx, repositoryId, digest);
    if (!link) throw new RegistryError('BLOB_UNKNOWN', { digest: digest.text });
    if (link.refcount > 0) {
      throw referencedError(`blob ${digest.text} is referenced by ${link.refcount} manifest(s) in ${name}; delete them first`, BLOB_METHODS);
    }
    await unlinkBlob(tx, repositoryId, link.blob_id);
    await appendEvent(tx, { kind: 'blob.delete', repository: name, digest: digest.text });
  });
}
