// The S3 client and the mapping of its failures to storage error kinds.
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { StorageError } from '../blob-store.ts';
import { healthOf, Silence, watchSilence } from './silence.ts';

export interface S3ClientOptions {
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
  /** Absent: the SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, instance roles...). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Attempts per request, first one included; transient failures are retried with jittered backoff. */
  maxAttempts?: number;
  /** No connection within this time: the attempt fails (and is retried). */
  connectTimeoutMs?: number;
  /** No byte sent or received on the socket for this long: the attempt fails. */
  idleTimeoutMs?: number;
  /** Shared with other clients of the same endpoint (silence.ts); a fresh one by default. */
  silence?: Silence;
}

/**
 * Idle timeout of an attempt. Measured on the local Ceph gateway saturated by 8
 * writers (145 MB/s): a 16 MiB PutObject answered within 1.5 s, HEAD and LIST
 * within 1 s; AWS advises retrying small requests after 2 s. While bytes flow the
 * timer never fires, however large the part. A timed-out attempt is retried unless
 * S3 has gone silent (silence.ts), so a hung S3 is decided in 3-6 s and a stall
 * while S3 still answers other requests only delays requests.
 */
export const IDLE_TIMEOUT_MS = 3_000;

/**
 * Server-side copies (CopyObject, UploadPartCopy, completing a multipart copy) send
 * nothing until done: 8 parallel 64 MiB UploadPartCopy took 2.7 s on the local Ceph
 * with an idle machine. They get a client of their own with this idle timeout.
 */
export const COPY_IDLE_TIMEOUT_MS = 120_000;

export function createS3Client(o: S3ClientOptions): S3Client {
  const agentOptions = { keepAlive: true, maxSockets: 64 };
  const idleTimeoutMs = o.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  const client = new S3Client({
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    region: o.region,
    forcePathStyle: o.forcePathStyle,
    // The default (WHEN_SUPPORTED) sends streamed bodies aws-chunked with checksum
    // trailers, which S3-compatible servers such as Ceph refuse with 411.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: o.maxAttempts ?? 4,
    retryMode: 'standard',
    requestHandler: {
      // TCP connect only: a reachable server accepts in milliseconds, a lost SYN is resent after 1 s
      connectionTimeout: o.connectTimeoutMs ?? 2_000,
      // Idle time, while sending the body, waiting for the answer and reading it. (The handler's
      // requestTimeout would bound the whole exchange up to the response headers, body upload
      // included, so a large part on a slow link would fail however steadily it moved.)
      socketTimeout: idleTimeoutMs,
      httpAgent: new Agent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
    },
  });
  watchSilence(client, { idleTimeoutMs, silence: o.silence ?? new Silence(idleTimeoutMs) });
  return client;
}

/** The client for server-side copies: the same endpoint and credentials, a longer idle timeout, the same view of S3's silence. */
export function createCopyClient(o: S3ClientOptions, main: S3Client): S3Client {
  const silence = healthOf(main)?.silence;
  return createS3Client({ ...o, idleTimeoutMs: COPY_IDLE_TIMEOUT_MS, ...(silence ? { silence } : {}) });
}

const NOT_FOUND = new Set(['NoSuchKey', 'NotFound', 'NoSuchUpload']);
const TRANSIENT_CODES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeTooSkewed', 'ServiceUnavailable', 'InternalError']);
/**
 * No room for the bytes: Ceph's gateway answers 403 QuotaExceeded when a user or
 * bucket quota would be passed (tried here) and 507 InsufficientCapacity when its
 * pool is full; MinIO answers 507 XMinioStorageFull. (EntityTooLarge is not one of
 * them: it refuses a single object or part over S3's size limit, however empty the store.)
 */
const FULL_CODES = new Set(['QuotaExceeded', 'InsufficientCapacity', 'XMinioStorageFull', 'XMinioAdminBucketQuotaExceeded']);

/** True when S3 says the object (or multipart upload) does not exist. */
export function isNotFound(err: unknown): boolean {
  return err instanceof S3ServiceException && (NOT_FOUND.has(err.name) || err.$metadata.httpStatusCode === 404);
}

/**
 * What a failed S3 call means for the registry. By the time an error reaches
 * here the SDK has already retried what was retryable, so anything transient
 * (no connection, a timeout, 5xx, throttling) is an outage: 'unavailable'.
 */
export function storageError(err: unknown, what: string): StorageError {
  if (err instanceof StorageError) return err;
  if (isNotFound(err)) return new StorageError('not_found', `${what}: not found`, { cause: err });
  if (err instanceof S3ServiceException) {
    const status = err.$metadata.httpStatusCode ?? 0;
    const kind = FULL_CODES.has(err.name) || status === 507 ? 'full' : status >= 500 || status === 429 || TRANSIENT_CODES.has(err.name) ? 'unavailable' : 'io';
    return new StorageError(kind, `${what}: S3 ${err.name} (${status}) ${err.message}`, { cause: err });
  }
  // Network and timeout errors surface as plain errors (ECONNREFUSED, TimeoutError, S3Silent, ...).
  const e = err as { name?: string; code?: string; message?: string } | undefined;
  return new StorageError('unavailable', `${what}: ${e?.code ?? e?.name ?? 'error'} ${e?.message ?? String(err)}`, { cause: err });
}

/** Runs one S3 call, turning its failure into a StorageError. */
export async function s3Call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw storageError(err, what);
  }
}
