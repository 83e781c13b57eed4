// Upload sessions. The commit protocol for a blob (described here once):
//   1. bytes are appended to the session's staging in storage, hashed on the way
//      (SHA-256 or SHA-512 for the API, BLAKE3 for the key) in the same pass;
//   2. on completion the digest is verified and the blob's key pinned (so no
//      collector deletes those bytes until step 3; src/registry/gc/pins.ts), then the
//      staged bytes become the object keyed by BLAKE3 (durable before step 3), or
//      are dropped when that object exists already (global dedupe);
//   3. one transaction drops the pin, upserts the blob row, links it to the
//      repository, deletes the session row and appends the event.
// A failure before 3 leaves no row; the unreferenced bytes are swept later.
import { randomUUID } from 'node:crypto';
import { finished, type Readable, type Transform } from 'node:stream';
import { decode, encode } from 'cbor-x';
import type { Digest } from '../../digest/digest.ts';
import { hashingStream, type HashResult, type StreamHasher } from '../../digest/hasher.ts';
import { linkBlob, upsertBlob } from '../../db/blobs.ts';
import { absentNamesOfBlob, attachBlob } from '../../db/manifest-absent.ts';
import { appendEvent } from '../../db/events.ts';
import { ensureRepository, lockRepositoryForWrite } from '../../db/repositories.ts';
import * as sessions from '../../db/uploads.ts';
import { RegistryError } from '../../errors/codes.ts';
import { blobKey, type UploadState } from '../../storage/blob-store.ts';
import { chunksOwned, ownChunks } from '../../storage/owned-chunks.ts';
import type { RegistryContext } from '../context.ts';
import { consumePin, pinBlob, releasePin } from '../gc/pins.ts';
import { clientWentAway, findRow, rangeHeaders, withLease, type Lease } from './upload-lease.ts';
import type { RepoName } from '../../shared/names.ts';

export interface ChunkRange {
  start: number;
  end: number;
}

export interface SessionInfo {
  id: string;
  offset: number;
}

export async function startUpload(ctx: RegistryContext, name: RepoName): Promise<SessionInfo> {
  const id = randomUUID();
  const state = await ctx.store.startUpload(id);
  await ctx.pool.transaction(async (tx) => {
    const repositoryId = await ensureRepository(tx, name);
    await sessions.insertSession(tx, id, repositoryId, Buffer.from(encode(state)));
  });
  return { id, offset: 0 };
}

export async function uploadStatus(ctx: RegistryContext, name: RepoName, id: string): Promise<SessionInfo> {
  const row = await findRow(ctx, name, id);
  return { id, offset: row.byte_offset };
}

function stateOf(row: sessions.SessionRow): UploadState {
  const saved = decode(row.driver_state) as UploadState;
  return { ...saved, size: row.byte_offset };
}

/** The session's hasher at state.size: the live one if this process has it, else rebuilt from storage. */
async function hasherAt(ctx: RegistryContext, sessionId: string, state: UploadState, algorithm: Digest['algorithm']): Promise<StreamHasher> {
  const cached = ctx.hashers.take(sessionId, state.size, algorithm);
  if (cached) return cached;
  const staged = state.size > 0 ? await ctx.store.readUpload(state, { start: 0, end: state.size - 1 }) : null;
  return ctx.hashers.rebuild(algorithm, staged);
}

/**
 * Marks a request body as the HTTP server's own: its chunks are referenced by
 * nothing else, so the storage driver may free each one once copied (owned-chunks.ts).
 */
export const requestBody = ownChunks;

/**
 * A request body on its way through a hasher; `stream` is what storage writes.
 * `cut` is set when the body ended before its announced length (the client went
 * away, reset the connection, or sent less than its Content-Length).
 */
interface Hashing {
  body: Readable;
  hasher: StreamHasher;
  stream: Transform;
  cut: RegistryError | null;
}

/**
 * Starts feeding body through the hasher. A client may vanish at any instant:
 * before storage starts reading the stream (it may still be opening a file or
 * waiting for a buffer), while it reads, or after it stopped. So the stream has
 * its error handled from the moment it exists; the storage driver sees the
 * failure through its reads, and appendHashed reports the cut, whatever the
 * driver made of it.
 */
function startHashing(body: Readable, hasher: StreamHasher): Hashing {
  const stream = hashingStream(hasher);
  const h: Hashing = { body, hasher, stream, cut: null };
  stream.on('error', () => undefined); // seen by the reader, or by nobody once it has stopped
  if (chunksOwned(body)) ownChunks(stream); // it passes on the body's own chunks
  body.pipe(stream);
  const cleanup = finished(body, { writable: false }, (err) => {
    cleanup();
    if (!err) return;
    h.cut = clientWentAway('the request body ended before its announced length');
    stream.destroy(h.cut);
  });
  return h;
}

/** Stops hashing a body that will not be stored; the rest of it is read and dropped. */
function abandon(h: Hashing): void {
  h.body.unpipe(h.stream);
  h.body.resume();
  h.stream.destroy();
  h.hasher.dispose();
}

/** Writes the hashed body to the staging; stops writing when `lost` is aborted. */
async function appendHashed(ctx: RegistryContext, state: UploadState, h: Hashing, lost: AbortSignal): Promise<UploadState> {
  const stop = () => h.stream.destroy(lost.reason as Error);
  lost.addEventListener('abort', stop, { once: true });
  try {
    return await ctx.store.appendUpload(state, h.stream);
  } catch (e) {
    abandon(h);
    if (lost.aborted) throw lost.reason;
    throw h.cut ?? e;
  } finally {
    lost.removeEventListener('abort', stop);
  }
}

/** A chunk with a range must start at the session's offset. */
function expectStart(range: ChunkRange | null, offset: number): void {
  if (range && range.start !== offset) {
    throw new RegistryError('RANGE_INVALID', `chunk starts at ${range.start}, expected ${offset}`, rangeHeaders(offset));
  }
}

/** A chunk with a range must hold exactly end-start+1 bytes; nothing was recorded when it does not. */
function expectLength(range: ChunkRange | null, added: number, offset: number): void {
  if (range && added !== range.end - range.start + 1) {
    throw new RegistryError('RANGE_INVALID', `Content-Range announced ${range.end - range.start + 1} bytes, body held ${added}`, rangeHeaders(offset));
  }
}

/**
 * Appends one chunk. With a range, it must start at the session's offset and
 * the body must hold exactly end-start+1 bytes.
 */
export async function appendChunk(
  ctx: RegistryContext,
  name: RepoName,
  id: string,
  body: Readable,
  range: ChunkRange | null,
): Promise<SessionInfo> {
  return withLease(ctx, name, id, async (lease) => {
    expectStart(range, lease.row.byte_offset);
    const offset = await appendLeased(ctx, name, lease, body, range);
    return { id, offset };
  });
}

/** Appends the body, records the new offset and keeps the lease for the session's next chunk. */
async function appendLeased(ctx: RegistryContext, name: RepoName, lease: Lease, body: Readable, range: ChunkRange | null): Promise<number> {
  const { row, token } = lease;
  const state = stateOf(row);
  const hasher = await hasherAt(ctx, row.id, state, 'sha256');
  const next = await appendHashed(ctx, state, startHashing(body, hasher), lease.lost);
  try {
    expectLength(range, next.size - state.size, row.byte_offset);
    const driverState = Buffer.from(encode(next));
    const sent = Date.now();
    if (!(await sessions.commitAppend(ctx.pool, row.id, token, next.size, driverState, lease.seconds))) {
      await findRow(ctx, name, row.id); // cancelled meanwhile: BLOB_UPLOAD_UNKNOWN
      throw new RegistryError('BLOB_UPLOAD_INVALID', 'the upload session was taken over by another request');
    }
    ctx.hashers.put(row.id, next.size, hasher);
    ctx.leases.keep(row.id, { token, repository: name, row: { ...row, byte_offset: next.size, driver_state: driverState }, confirmedAt: sent });
    return next.size;
  } catch (err) {
    hasher.dispose(); // it has seen bytes the session does not hold
    throw err;
  }
}

/** Appends an optional last chunk, verifies the digest and commits the blob, under one lease. */
export async function finishUpload(
  ctx: RegistryContext,
  name: RepoName,
  id: string,
  digest: Digest,
  lastChunk: { body: Readable; range: ChunkRange | null } | null,
): Promise<void> {
  await withLease(ctx, name, id, async ({ row, lost }) => {
    let state = stateOf(row);
    if (lastChunk) expectStart(lastChunk.range, row.byte_offset);
    // in the digest's algorithm from the start, so a last chunk is hashed once
    const hasher = await hasherAt(ctx, row.id, state, digest.algorithm);
    if (lastChunk) {
      const next = await appendHashed(ctx, state, startHashing(lastChunk.body, hasher), lost);
      try {
        expectLength(lastChunk.range, next.size - state.size, row.byte_offset);
      } catch (err) {
        hasher.dispose();
        throw err;
      }
      state = next;
    }
    const result = await hasher.finish();
    if (result.digest.text !== digest.text) {
      await cancelRow(ctx, row);
      throw new RegistryError('DIGEST_INVALID', { expected: digest.text, computed: result.digest.text });
    }
    await commitBlob(ctx, name, state, result, row.id);
  });
}

/** Steps 2 and 3 of the commit protocol: durable object at its BLAKE3 key, then one transaction. */
async function commitBlob(ctx: RegistryContext, name: RepoName, state: UploadState, result: HashResult, sessionId: string | null): Promise<void> {
  const pin = await pinBlob(ctx.pool, result.blake3);
  try {
    await ctx.store.completeUpload(state, blobKey(result.blake3));
    await ctx.pool.transaction(async (tx) => {
      const repositoryId = await ensureRepository(tx, name);
      // sparse manifests waiting for this blob change with it (the repository row first: the lock order)
      const waiting = await absentNamesOfBlob(tx, repositoryId, result.digest.text, result.blake3);
      if (waiting.length > 0) await lockRepositoryForWrite(tx, repositoryId);
      await consumePin(tx, pin);
      const blobId = await upsertBlob(tx, {
        blake3: result.blake3,
        size: result.size,
        [result.digest.algorithm]: Buffer.from(result.digest.hex, 'hex'),
      });
      await linkBlob(tx, repositoryId, blobId);
      if (waiting.length > 0) await attachBlob(tx, repositoryId, { id: blobId, size: result.size, names: waiting });
      if (sessionId) await sessions.deleteSession(tx, sessionId);
      await appendEvent(tx, { kind: 'blob.push', repository: name, digest: result.digest.text, size: result.size });
    });
  } catch (err) {
    await releasePin(ctx.pool, pin);
    throw err;
  }
}

export async function cancelUpload(ctx: RegistryContext, name: RepoName, id: string): Promise<void> {
  const row = await findRow(ctx, name, id);
  await cancelRow(ctx, row);
}

async function cancelRow(ctx: RegistryContext, row: sessions.SessionRow): Promise<void> {
  ctx.hashers.drop(row.id);
  ctx.leases.forget(row.id);
  // Row first: once it is gone no request can reach the staged bytes.
  await sessions.deleteSession(ctx.pool, row.id);
  await ctx.store.abortUpload(stateOf(row)).catch(() => undefined);
}

/**
 * A whole blob in one request (POST ?digest= with a body). No session row is
 * needed: the staging exists only for this request, and a crash leaves only
 * unreferenced staged bytes for the sweeper. The pull-through cache names the
 * staging (`uploadId`) so that other pulls of the blob can follow it.
 */
export async function monolithicUpload(ctx: RegistryContext, name: RepoName, digest: Digest, body: Readable, uploadId: string = randomUUID()): Promise<void> {
  const state = await ctx.store.startUpload(uploadId);
  try {
    const hasher = ctx.hashers.create(digest.algorithm);
    const staged = await appendHashed(ctx, state, startHashing(body, hasher), new AbortController().signal); // no session, no lease
    const result = await hasher.finish();
    if (result.digest.text !== digest.text) throw new RegistryError('DIGEST_INVALID', { expected: digest.text, computed: result.digest.text });
    await commitBlob(ctx, name, staged, result, null);
  } catch (err) {
    await ctx.store.abortUpload(state).catch(() => undefined);
    throw err;
  }
}
