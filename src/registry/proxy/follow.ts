// A pull that finds the same blob being fetched for its repository by another
// pull (flight.ts) follows that fetch instead of asking the upstream again. Where
// the store can read a staging while it grows (the fs driver, also from another
// replica sharing the data directory) the client is sent what is already stored
// while the rest arrives; elsewhere (S3) the pull waits for the commit and is then
// served from the cache.
//
// The follower hashes what it sends and holds back the last chunk until the
// digest matched, as the fetching pull does: a client receives a complete body
// only for the right bytes, whatever happened to the staging meanwhile. When the
// fetch it follows dies part-way, the follower takes it over (pull.ts) and sends
// the rest of the new fetch's bytes.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Digest } from '../../digest/digest.ts';
import { findBlob } from '../../db/blobs.ts';
import { RegistryError } from '../../errors/codes.ts';
import type { RepoName } from '../../shared/names.ts';
import { blobKey } from '../../storage/blob-store.ts';
import type { RegistryContext } from '../context.ts';
import { watch } from './flight.ts';

/** Bytes arriving in a staging are looked for this often. */
const FOLLOW_POLL_MS = 50;

/** Where a proxied blob goes: the client's response. */
export interface BlobSink {
  /** Sets status and headers; called once, before the first byte. */
  start(size: number | null): void;
  send(chunk: Buffer): Promise<void>;
  readonly started: boolean;
}

/**
 * Follows the fetch of the blob that another pull runs, sending through `out`.
 * 'served': the client got the whole blob; 'ended': that fetch ended (or was
 * abandoned) before it committed; when nothing was sent yet, the blob may now be
 * in the cache, else this pull may fetch it itself and send the rest.
 */
export async function followFetch(ctx: RegistryContext, name: RepoName, digest: Digest, out: VerifiedBody): Promise<'served' | 'ended'> {
  const readable = ctx.store.followUpload !== undefined;
  let served = false;
  await watch(ctx, 'blob', digest.text, async (row) => {
    if (row === null) return { done: true, moved: false };
    if (!readable || row.repository !== name || row.size === null || row.upload_id === null) return { done: false, moved: false };
    if (!out.begun) out.begin(row.size);
    const before = out.position;
    await readStaged(ctx, row.upload_id, out.position, out.size - 1, (chunk) => out.take(chunk));
    served = out.position === out.size;
    if (served) await out.finish();
    return { done: served, moved: out.position > before };
  }, readable ? FOLLOW_POLL_MS : undefined);
  if (served) return 'served';
  return out.begun && (await finishFromCache(ctx, digest, out)) ? 'served' : 'ended';
}

/** Sends the rest of a body begun elsewhere from the committed object; false when the blob is not committed. */
export async function finishFromCache(ctx: RegistryContext, digest: Digest, out: VerifiedBody): Promise<boolean> {
  const blob = await findBlob(ctx.pool, digest);
  if (!blob) return false;
  if (blob.size !== out.size) throw new RegistryError('UNAVAILABLE', `${digest.text} is ${blob.size} bytes, not the ${out.size} announced`);
  if (out.position < out.size) await copy(await ctx.store.read(blobKey(blob.blake3), { start: out.position, end: out.size - 1 }), (chunk) => out.take(chunk));
  await out.finish();
  return true;
}

/** Reads what is final of the staging from `start` to at most `end`; nothing when it is not there (yet, or any more). */
async function readStaged(ctx: RegistryContext, uploadId: string, start: number, end: number, take: (chunk: Buffer) => Promise<void>): Promise<void> {
  if (start > end || !ctx.store.followUpload) return;
  const stream = await ctx.store.followUpload(uploadId, { start, end });
  if (stream) await copy(stream, take);
}

async function copy(stream: Readable, take: (chunk: Buffer) => Promise<void>): Promise<void> {
  try {
    for await (const chunk of stream) await take(chunk as Buffer);
  } finally {
    stream.destroy();
  }
}

/**
 * A client's body assembled from wherever its bytes come (a staging followed, the
 * committed object, a fetch taken over): sent in order, hashed, the last chunk
 * held back until the digest matched.
 */
export class VerifiedBody {
  size = 0;
  position = 0;
  private held: Buffer | null = null;
  private readonly hash;
  private readonly digest: Digest;
  private readonly sink: BlobSink;

  constructor(digest: Digest, sink: BlobSink) {
    this.digest = digest;
    this.sink = sink;
    this.hash = createHash(digest.algorithm);
  }

  get begun(): boolean {
    return this.sink.started;
  }

  begin(size: number): void {
    this.size = size;
    this.sink.start(size);
  }

  async take(chunk: Buffer): Promise<void> {
    if (this.position + chunk.length > this.size) {
      throw new RegistryError('UNAVAILABLE', `more bytes than the ${this.size} announced for ${this.digest.text}; nothing more was sent`);
    }
    this.hash.update(chunk);
    this.position += chunk.length;
    const previous = this.held;
    this.held = chunk;
    if (previous) await this.sink.send(previous);
  }

  /** A sink for a fetch of the whole blob that continues this body: the bytes already sent are skipped. */
  continuation(): BlobSink {
    let skip = this.position;
    return {
      started: true,
      start: () => undefined,
      send: async (chunk) => {
        if (skip >= chunk.length) {
          skip -= chunk.length;
          return;
        }
        const rest = chunk.subarray(skip);
        skip = 0;
        await this.take(rest);
      },
    };
  }

  async finish(): Promise<void> {
    const hex = this.hash.digest('hex');
    if (this.position !== this.size || hex !== this.digest.hex) {
      throw new RegistryError('UNAVAILABLE', `the bytes sent for ${this.digest.text} did not verify; nothing more was sent`);
    }
    if (this.held) await this.sink.send(this.held);
  }
}
