// Sending an object to a client. Reading one GetObject stream and awaiting each
// small chunk's write to the client before reading on leaves both connections
// idle half the time (measured: ~0.5x distribution's pull). So the object is
// fetched as consecutive ranges, a few in flight, each read whole into its own
// buffer and handed to the sink in order. Memory: `window` ranges per request.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Readable } from 'node:stream';
import { StorageError, type ByteRange } from '../blob-store.ts';
import { IDLE_TIMEOUT_MS, s3Call, storageError } from './client.ts';
import { RawGetTimeout, rawGetRange } from './raw-get.ts';
import { healthOf } from './silence.ts';

export interface RangedReadOptions {
  pieceSize: number;
  window: number;
}

export const DEFAULT_RANGED_READ: RangedReadOptions = { pieceSize: 16 * 1024 * 1024, window: 3 };

interface Piece {
  data: Buffer;
  /** Size of the whole object, from Content-Range. */
  total: number;
  /** The reusable buffer `data` is a view of, if any. */
  buffer?: Buffer;
}

export async function copyRanges(
  client: S3Client,
  bucket: string,
  key: string,
  range: ByteRange | undefined,
  write: (chunk: Buffer) => Promise<void>,
  o: RangedReadOptions = DEFAULT_RANGED_READ,
): Promise<void> {
  const abort = new AbortController();
  // One URL for every range of this read; buffers reused once written (the sink is done with them),
  // which spares a fresh 16 MiB allocation and its page faults per range.
  const url = (await isPlainHttp(client)) ? await presign(client, bucket, key) : null;
  const free: Buffer[] = [];
  const fetchPiece = (from: number, to: number) => getRange(client, { bucket, key, url }, from, to, abort.signal, free.pop() ?? null);
  const start = range?.start ?? 0;
  // The first range also tells the object's size when the whole object is asked for.
  const first = await fetchPiece(start, Math.min(start + o.pieceSize, (range?.end ?? Infinity) + 1) - 1);
  if (!first) return;
  const end = range ? range.end : first.total - 1;
  const queue: Array<Promise<Piece | null>> = [];
  let next = start + first.data.length;
  const refill = () => {
    while (queue.length < o.window && next <= end) {
      const to = Math.min(next + o.pieceSize, end + 1) - 1;
      const p = fetchPiece(next, to);
      p.catch(() => undefined); // awaited below, in order; never unhandled
      queue.push(p);
      next = to + 1;
    }
  };
  const send = async (piece: Piece) => {
    await write(piece.data);
    if (piece.buffer) free.push(piece.buffer);
  };
  try {
    refill();
    await send(first);
    while (queue.length > 0) {
      const piece = await (queue.shift() as Promise<Piece | null>);
      refill();
      if (piece) await send(piece);
    }
  } catch (err) {
    abort.abort();
    throw err;
  }
}

interface Source {
  bucket: string;
  key: string;
  /** A presigned GET URL when the endpoint is plain http, for the lean path (raw-get.ts). */
  url: URL | null;
}

async function presign(client: S3Client, bucket: string, key: string): Promise<URL | null> {
  try {
    return new URL(await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 3600 }));
  } catch {
    return null; // the SDK path reports whatever is wrong
  }
}

/**
 * One range, read whole: by the lean path when there is a URL, else (or on any surprise) by the SDK.
 * The lean path shares the client's idle timeout and view of S3's silence (silence.ts): skipped
 * while S3 is silent, so an outage costs the SDK's one attempt, not a lean timeout on top.
 */
async function getRange(client: S3Client, src: Source, start: number, end: number, signal: AbortSignal, reuse: Buffer | null): Promise<Piece | null> {
  const health = healthOf(client);
  if (src.url && !health?.silence.silent) {
    try {
      const got = await rawGetRange(src.url, start, end, signal, health?.idleTimeoutMs ?? IDLE_TIMEOUT_MS, reuse);
      health?.silence.answered();
      return { data: got.data, total: got.total, buffer: got.buffer };
    } catch (err) {
      if (signal.aborted) throw err;
      if (err instanceof RawGetTimeout) health?.silence.timedOut();
      // fall through: the SDK maps the error (or retries) properly
    }
  }
  return sdkGetRange(client, src.bucket, src.key, start, end, signal);
}

const plainHttp = new WeakMap<S3Client, Promise<boolean>>();

function isPlainHttp(client: S3Client): Promise<boolean> {
  let known = plainHttp.get(client);
  if (!known) {
    const endpoint = client.config.endpoint;
    known = endpoint ? endpoint().then((e) => e.protocol === 'http:') : Promise.resolve(false);
    plainHttp.set(client, known);
  }
  return known;
}

async function sdkGetRange(client: S3Client, bucket: string, key: string, start: number, end: number, signal: AbortSignal): Promise<Piece | null> {
  let res;
  try {
    res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}` }), { abortSignal: signal });
  } catch (err) {
    // S3 refuses every range of an empty object
    if ((err as { name?: string }).name === 'InvalidRange' && start === 0) return null;
    throw storageError(err, `read ${key}`);
  }
  const total = Number(/\/(\d+)$/.exec(res.ContentRange ?? '')?.[1] ?? res.ContentLength ?? 0);
  const data = Buffer.allocUnsafe(res.ContentLength ?? end - start + 1);
  let filled = 0;
  await s3Call(`read ${key}`, async () => {
    for await (const chunk of res.Body as Readable) filled += (chunk as Buffer).copy(data, filled);
  });
  if (filled !== data.length) throw new StorageError('unavailable', `read ${key}: range ${start}-${end} ended after ${filled} bytes`);
  return { data, total };
}
