// Writing a stream of unknown length to one S3 object. The bytes are cut into
// parts of a fixed size; a stream that fits in one part is a single PutObject,
// a longer one a multipart upload with a few parts in flight at once. Memory is
// bounded by (concurrency + 1) part buffers, and the source is not read while
// that many parts are waiting: backpressure reaches the client's socket.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { StorageError } from '../blob-store.ts';
import { chunksOwned, freeChunk } from '../owned-chunks.ts';
import { s3Call } from './client.ts';
import { healthOf } from './silence.ts';

export interface PartOptions {
  partSize: number;
  concurrency: number;
}

export interface Target {
  client: S3Client;
  bucket: string;
  key: string;
}

/**
 * Writes `prefix` followed by everything `body` yields to `target`, and returns the
 * byte count. Nothing is written when the body is empty. A failure leaves no object
 * and no open multipart upload behind (a crash may; see abortUpload).
 */
export async function writeStream(target: Target, prefix: Buffer | null, body: AsyncIterable<Buffer>, o: PartOptions): Promise<number> {
  let buf = Buffer.allocUnsafe(o.partSize);
  let fill = prefix ? prefix.copy(buf) : 0;
  let bodyBytes = 0;
  let multipart: MultipartWriter | null = null;
  const free = chunksOwned(body); // a request body's chunks are freed once copied into the part
  try {
    for await (const chunk of bodyChunks(body)) {
      bodyBytes += chunk.length;
      for (let off = 0; off < chunk.length; ) {
        const n = chunk.copy(buf, fill, off);
        fill += n;
        off += n;
        if (fill < buf.length) continue;
        multipart ??= await MultipartWriter.start(target, o.concurrency);
        await multipart.add(buf);
        buf = Buffer.allocUnsafe(o.partSize);
        fill = 0;
      }
      if (free) freeChunk(chunk);
    }
    if (bodyBytes === 0) return 0;
    if (!multipart) {
      const data = buf.subarray(0, fill);
      await s3Call(`put ${target.key}`, () =>
        target.client.send(new PutObjectCommand({ Bucket: target.bucket, Key: target.key, Body: data, ContentLength: data.length })),
      );
    } else {
      if (fill > 0) await multipart.add(buf.subarray(0, fill));
      await multipart.complete();
    }
    return (prefix?.length ?? 0) + bodyBytes;
  } catch (err) {
    await multipart?.abort();
    throw err;
  }
}

/** The body's chunks; a failure of the body itself (the client went away) becomes an 'io' error. */
async function* bodyChunks(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of body) yield chunk;
  } catch (err) {
    throw err instanceof StorageError ? err : new StorageError('io', `request body failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}

/** One multipart upload with up to `concurrency` parts in flight. */
class MultipartWriter {
  private readonly target: Target;
  private readonly uploadId: string;
  private readonly concurrency: number;
  private readonly abortController = new AbortController();
  private readonly parts: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown = null;

  private constructor(target: Target, uploadId: string, concurrency: number) {
    this.target = target;
    this.uploadId = uploadId;
    this.concurrency = concurrency;
  }

  static async start(target: Target, concurrency: number): Promise<MultipartWriter> {
    const res = await s3Call(`start multipart upload ${target.key}`, () =>
      target.client.send(new CreateMultipartUploadCommand({ Bucket: target.bucket, Key: target.key })),
    );
    if (!res.UploadId) throw new StorageError('io', `S3 returned no upload id for ${target.key}`);
    return new MultipartWriter(target, res.UploadId, concurrency);
  }

  /** Queues one part; resolves once there is room for another. */
  async add(data: Buffer): Promise<void> {
    this.throwIfFailed();
    const partNumber = this.parts.length + 1;
    this.parts.push({ PartNumber: partNumber });
    const upload = this.uploadPart(partNumber, data).then(
      (etag) => {
        this.parts[partNumber - 1] = { PartNumber: partNumber, ETag: etag };
      },
      (err: unknown) => {
        this.failure ??= err;
        this.abortController.abort();
      },
    );
    this.inFlight.add(upload);
    void upload.finally(() => this.inFlight.delete(upload));
    while (this.inFlight.size >= this.concurrency) await Promise.race(this.inFlight);
    this.throwIfFailed();
  }

  async complete(): Promise<void> {
    await Promise.all(this.inFlight);
    this.throwIfFailed();
    const { client, bucket, key } = this.target;
    // Ceph answers with an empty ETag here; nothing below needs it.
    await s3Call(`complete multipart upload ${key}`, () =>
      client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: this.uploadId, MultipartUpload: { Parts: this.parts } })),
    );
  }

  /** Best effort: skipped while S3 is silent (silence.ts); the sweep aborts multipart uploads left open. */
  async abort(): Promise<void> {
    this.abortController.abort();
    await Promise.allSettled(this.inFlight);
    const { client, bucket, key } = this.target;
    if (healthOf(client)?.silence.silent) return;
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: this.uploadId })).catch(() => undefined);
  }

  private async uploadPart(partNumber: number, data: Buffer): Promise<string> {
    const { client, bucket, key } = this.target;
    const res = await s3Call(`upload part ${partNumber} of ${key}`, () =>
      client.send(
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: this.uploadId, PartNumber: partNumber, Body: data, ContentLength: data.length }),
        { abortSignal: this.abortController.signal },
      ),
    );
    if (!res.ETag) throw new StorageError('io', `S3 returned no ETag for part ${partNumber} of ${key}`);
    return res.ETag;
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
  }
}
