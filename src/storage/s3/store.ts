// S3 driver: the same keys as the filesystem (keys.ts) under an optional prefix.
// Upload sessions are folders of segment objects (segments.ts), written by
// stream-upload.ts and joined into the final object by assemble.ts.
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { StorageError, type BlobKey, type BlobStore, type ByteRange, type StoredObjectInfo, type UploadState } from '../blob-store.ts';
import { keyFromPath, OBJECTS_ROOT, objectPath, quarantinePath, stagingPath, UPLOADS_ROOT, uploadIdFromPath } from '../keys.ts';
import { assemble, type CopyOptions } from './assemble.ts';
import { isNotFound, s3Call, storageError } from './client.ts';
import { copyRanges } from './ranged-read.ts';
import { healthOf } from './silence.ts';
import { MIN_PART, segmentName, segmentsInRange, sessionOf, uploadStateOf, type Segment } from './segments.ts';
import { writeStream, type PartOptions } from './stream-upload.ts';

export interface S3StoreOptions {
  bucket: string;
  /** Prepended to every key, e.g. 'registry/'. */
  prefix: string;
  part: PartOptions;
  copy: CopyOptions;
  /** When set, blob reads may be redirected to presigned URLs valid this long. */
  presignSeconds: number | null;
  /** The client for server-side copies, which answer only when done (client.ts); the main client by default. */
  copyClient?: S3Client;
}

export class S3BlobStore implements BlobStore {
  readonly name = 's3';
  private readonly client: S3Client;
  private readonly o: S3StoreOptions;

  constructor(client: S3Client, options: S3StoreOptions) {
    this.client = client;
    this.o = options;
  }

  /** Fails fast, with a message an operator can act on, when the bucket cannot be used. */
  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.o.bucket }));
    } catch (err) {
      const e = storageError(err, `S3 bucket "${this.o.bucket}"`);
      const reason = e.kind === 'not_found' ? 'does not exist' : e.kind === 'unavailable' ? 'is unreachable' : 'cannot be used';
      throw new StorageError(e.kind, `S3 bucket "${this.o.bucket}" ${reason}: ${e.message}`, { cause: err });
    }
  }

  private objectKey(key: BlobKey): string {
    return this.o.prefix + objectPath(key);
  }

  private stagingPrefix(uploadId: string): string {
    try {
      return `${this.o.prefix}${stagingPath(uploadId)}/`;
    } catch (err) {
      throw new StorageError('io', (err as Error).message);
    }
  }

  async stat(key: BlobKey): Promise<{ size: number } | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.o.bucket, Key: this.objectKey(key) }));
      return { size: res.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw storageError(err, `stat ${key}`);
    }
  }

  read(key: BlobKey, range?: ByteRange): Promise<Readable> {
    return this.get(this.objectKey(key), range);
  }

  /** Blob GETs: consecutive ranges, a few in flight (ranged-read.ts). */
  copyTo(key: BlobKey, range: ByteRange | undefined, write: (chunk: Buffer) => Promise<void>): Promise<void> {
    return copyRanges(this.client, this.o.bucket, this.objectKey(key), range, write);
  }

  private async get(s3Key: string, range?: ByteRange): Promise<Readable> {
    const res = await s3Call(`read ${s3Key}`, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: s3Key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) })),
    );
    return res.Body as Readable;
  }

  async startUpload(uploadId: string): Promise<UploadState> {
    this.stagingPrefix(uploadId);
    return uploadStateOf(uploadId, { segments: [], superseded: [] });
  }

  async appendUpload(state: UploadState, body: Readable): Promise<UploadState> {
    const session = sessionOf(state);
    const folder = this.stagingPrefix(state.uploadId);
    // The state we were given is committed, so what the last append replaced is garbage now.
    await this.deleteKeys(session.superseded.map((name) => folder + name));
    const last = session.segments.at(-1);
    const merge = last !== undefined && last.size < MIN_PART ? last : null;
    const prefix = merge ? await this.readAll(folder + merge.name) : null;
    const name = segmentName(state.size - (merge?.size ?? 0));
    const target = { client: this.client, bucket: this.o.bucket, key: folder + name };
    const written = await writeStream(target, prefix, body, this.o.part);
    if (written === 0) return uploadStateOf(state.uploadId, { ...session, superseded: [] });
    const kept = merge ? session.segments.slice(0, -1) : session.segments;
    return uploadStateOf(state.uploadId, { segments: [...kept, { name, size: written }], superseded: merge ? [merge.name] : [] });
  }

  private async readAll(s3Key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.get(s3Key)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async readUpload(state: UploadState, range: ByteRange): Promise<Readable> {
    const session = sessionOf(state);
    const folder = this.stagingPrefix(state.uploadId);
    const pieces = [...segmentsInRange(session.segments, range.start, range.end)];
    const streams = pieces.map(({ segment, from, to }) => () => this.get(folder + segment.name, { start: from, end: to }));
    return Readable.from(concat(streams));
  }

  async completeUpload(state: UploadState, key: BlobKey): Promise<void> {
    const session = sessionOf(state);
    const folder = this.stagingPrefix(state.uploadId);
    if (!(await this.stat(key))) {
      const sources = session.segments.map((s: Segment) => ({ key: folder + s.name, size: s.size }));
      await assemble({ client: this.o.copyClient ?? this.client, bucket: this.o.bucket, key: this.objectKey(key) }, sources, this.o.copy);
    }
    await this.removeFolder(folder);
  }

  /**
   * While S3 is silent (silence.ts) this fails at once rather than wait out another
   * timeout: callers drop staging on a best-effort basis, and the sweep finds what is left.
   */
  async abortUpload(state: UploadState): Promise<void> {
    const folder = this.stagingPrefix(state.uploadId);
    if (healthOf(this.client)?.silence.silent) throw new StorageError('unavailable', `abort ${folder}: S3 is not answering`);
    await this.removeFolder(folder);
  }

  /** Deletes every object and aborts every multipart upload under a session's folder, including a crashed writer's. */
  private async removeFolder(folder: string): Promise<void> {
    const keys: string[] = [];
    for await (const obj of this.listObjects(folder)) keys.push(obj.key);
    await this.deleteKeys(keys);
    const uploads = await s3Call(`list multipart uploads ${folder}`, () =>
      this.client.send(new ListMultipartUploadsCommand({ Bucket: this.o.bucket, Prefix: folder })),
    );
    for (const u of uploads.Uploads ?? []) {
      await s3Call(`abort multipart upload ${u.Key}`, () =>
        this.client.send(new AbortMultipartUploadCommand({ Bucket: this.o.bucket, Key: u.Key, UploadId: u.UploadId })),
      ).catch((err: unknown) => {
        if (!(err instanceof StorageError && err.kind === 'not_found')) throw err;
      });
    }
  }

  private async deleteKeys(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((k) => s3Call(`delete ${k}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: k })))));
  }

  async delete(key: BlobKey): Promise<void> {
    await this.deleteKeys([this.objectKey(key)]);
  }

  async *list(area: 'objects' | 'uploads' = 'objects'): AsyncIterable<StoredObjectInfo> {
    if (area === 'uploads') {
      yield* this.listUploads();
      return;
    }
    for await (const obj of this.listObjects(this.o.prefix + OBJECTS_ROOT)) {
      const key = keyFromPath(obj.key);
      if (key) yield { key, size: obj.size, modified: obj.modified };
    }
  }

  /**
   * Sessions with staged segments or multipart uploads in progress (a writer that
   * crashed mid-stream leaves only the latter); modified = when bytes last reached
   * any of them. A multipart upload is dated by its newest part, not its start: a
   * single-request upload streams into one for as long as its body lasts, and the
   * sweep of abandoned uploads must not take a live one for a crashed one.
   */
  private async *listUploads(): AsyncGenerator<StoredObjectInfo> {
    const root = this.o.prefix + UPLOADS_ROOT;
    const seen = new Map<string, StoredObjectInfo>();
    const note = (path: string, size: number, modified: Date) => {
      const id = uploadIdFromPath(path.slice(this.o.prefix.length));
      if (!id) return;
      const prior = seen.get(id);
      seen.set(id, { key: id as BlobKey, size: (prior?.size ?? 0) + size, modified: prior && prior.modified > modified ? prior.modified : modified });
    };
    for await (const obj of this.listObjects(root)) note(obj.key, obj.size, obj.modified);
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    do {
      const page = await s3Call(`list multipart uploads ${root}`, () =>
        this.client.send(new ListMultipartUploadsCommand({ Bucket: this.o.bucket, Prefix: root, KeyMarker: keyMarker, UploadIdMarker: idMarker })),
      );
      for (const u of page.Uploads ?? []) if (u.Key) note(u.Key, 0, await this.lastWritten(u.Key, u.UploadId, u.Initiated));
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      idMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
    yield* seen.values();
  }

  /** When a multipart upload last received a part (its start when it has none); now when it is gone meanwhile. */
  private async lastWritten(key: string, uploadId: string | undefined, initiated: Date | undefined): Promise<Date> {
    let newest = initiated ?? new Date(0);
    if (!uploadId) return newest;
    let marker: string | undefined;
    try {
      do {
        const page = await s3Call(`list parts ${key}`, () =>
          this.client.send(new ListPartsCommand({ Bucket: this.o.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker })),
        );
        for (const p of page.Parts ?? []) if (p.LastModified && p.LastModified > newest) newest = p.LastModified;
        marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
      } while (marker);
    } catch (err) {
      if (err instanceof StorageError && err.kind === 'not_found') return new Date(); // completed or aborted just now
      throw err;
    }
    return newest;
  }

  async quarantine(key: BlobKey): Promise<void> {
    const source = this.objectKey(key);
    const target = this.o.prefix + quarantinePath(key, new Date());
    const size = await this.stat(key);
    if (!size) return;
    await assemble({ client: this.o.copyClient ?? this.client, bucket: this.o.bucket, key: target }, [{ key: source, size: size.size }], this.o.copy);
    await this.deleteKeys([source]);
  }

  private async *listObjects(prefix: string): AsyncGenerator<{ key: string; size: number; modified: Date }> {
    let token: string | undefined;
    do {
      const page = await s3Call(`list ${prefix}`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.o.bucket, Prefix: prefix, ContinuationToken: token })),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key) yield { key: o.Key, size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** A URL the client can fetch the object from directly, or null when redirects are off. */
  async presignedUrl(key: BlobKey): Promise<string | null> {
    if (this.o.presignSeconds === null) return null;
    const command = new GetObjectCommand({ Bucket: this.o.bucket, Key: this.objectKey(key) });
    return s3Call(`presign ${key}`, () => getSignedUrl(this.client, command, { expiresIn: this.o.presignSeconds ?? 900 }));
  }
}

/** Streams the ranges one after the other, opening each only when the previous is drained. */
async function* concat(opens: Array<() => Promise<Readable>>): AsyncGenerator<Buffer> {
  for (const open of opens) {
    for await (const chunk of await open()) yield chunk as Buffer;
  }
}
