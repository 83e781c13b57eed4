// Making a session's segments the final object, server-side (no byte passes
// through Bollard). The final key is the BLAKE3 digest, known only once the last
// byte has been hashed, so the bytes cannot be written there in the first place.
//  - one segment (the usual case: a blob pushed in one PATCH or PUT): CopyObject.
//    Ceph's gateway copies by reference within a pool, so 2 GiB takes ~1.4 s
//    there instead of ~9 s for a copy of the bytes (bench/s3/RESULTS.md);
//  - several segments, or one larger than copyObjectMax: a multipart upload at the
//    final key whose parts are UploadPartCopy ranges of the segments, in parallel.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { StorageError } from '../blob-store.ts';
import { s3Call } from './client.ts';
import { MIN_PART } from './segments.ts';
import type { Target } from './stream-upload.ts';

export interface CopyOptions {
  /** Largest single source copied with one CopyObject (S3 allows up to 5 GiB). */
  copyObjectMax: number;
  /** Size of the ranges copied with UploadPartCopy. */
  copyPartSize: number;
  concurrency: number;
}

export interface Source {
  key: string;
  size: number;
}

interface PartCopy {
  partNumber: number;
  source: string;
  range: string;
}

export async function assemble(dest: Target, sources: readonly Source[], o: CopyOptions): Promise<void> {
  const { client, bucket, key } = dest;
  const nonEmpty = sources.filter((s) => s.size > 0);
  const only = nonEmpty[0];
  if (!only) {
    await s3Call(`put ${key}`, () => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(0), ContentLength: 0 })));
  } else if (nonEmpty.length === 1 && only.size <= o.copyObjectMax) {
    await s3Call(`copy to ${key}`, () => client.send(new CopyObjectCommand({ Bucket: bucket, Key: key, CopySource: copySource(bucket, only.key) })));
  } else {
    await copyParts(dest, planParts(bucket, nonEmpty, o.copyPartSize), o.concurrency);
  }
}

/** Cuts each source into ranges of about `partSize` bytes, none below S3's minimum except the very last. */
function planParts(bucket: string, sources: readonly Source[], partSize: number): PartCopy[] {
  const parts: PartCopy[] = [];
  for (const [i, s] of sources.entries()) {
    if (i < sources.length - 1 && s.size < MIN_PART) throw new StorageError('io', `segment ${s.key} is below the minimum part size`);
    const count = Math.max(1, Math.floor(s.size / partSize));
    const step = Math.ceil(s.size / count);
    for (let start = 0; start < s.size; start += step) {
      const end = Math.min(s.size, start + step) - 1;
      parts.push({ partNumber: parts.length + 1, source: copySource(bucket, s.key), range: `bytes=${start}-${end}` });
    }
  }
  if (parts.length > 10_000) throw new StorageError('io', `${parts.length} parts exceed S3's limit of 10000`);
  return parts;
}

async function copyParts(dest: Target, plan: PartCopy[], concurrency: number): Promise<void> {
  const { client, bucket, key } = dest;
  const started = await s3Call(`start multipart copy ${key}`, () => client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key })));
  const uploadId = started.UploadId;
  if (!uploadId) throw new StorageError('io', `S3 returned no upload id for ${key}`);
  const abort = new AbortController();
  try {
    const done: CompletedPart[] = new Array(plan.length);
    let next = 0;
    const worker = async () => {
      for (let p = plan[next++]; p; p = plan[next++]) {
        const part = p;
        const res = await s3Call(`copy part ${part.partNumber} to ${key}`, () =>
          client.send(
            new UploadPartCopyCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: part.partNumber, CopySource: part.source, CopySourceRange: part.range }),
            { abortSignal: abort.signal },
          ),
        );
        const etag = res.CopyPartResult?.ETag;
        if (!etag) throw new StorageError('io', `S3 returned no ETag for copied part ${part.partNumber} of ${key}`);
        done[part.partNumber - 1] = { PartNumber: part.partNumber, ETag: etag };
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, plan.length) }, () => worker().catch((err: unknown) => {
      abort.abort();
      throw err;
    })));
    await s3Call(`complete multipart copy ${key}`, () =>
      client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: done } })),
    );
  } catch (err) {
    abort.abort();
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
    throw err;
  }
}

/** The x-amz-copy-source value: bucket and key, each path segment URL-encoded. */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}
