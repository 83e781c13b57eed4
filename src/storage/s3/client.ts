// The S3 client and the mapping of its failures to storage error kinds.
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { StorageError } from '../blob-store.ts';

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
}

export function createS3Client(o: S3ClientOptions): S3Client {
  const agentOptions = { keepAlive: true, maxSockets: 64 };
  return new S3Client({
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
      connectionTimeout: o.connectTimeoutMs ?? 3_000,
      requestTimeout: o.idleTimeoutMs ?? 30_000,
      // without this the SDK only logs a warning and the request waits forever
      throwOnRequestTimeout: true,
      httpAgent: new Agent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
    },
  });
}

const NOT_FOUND = new Set(['NoSuchKey', 'NotFound', 'NoSuchUpload']);
const TRANSIENT_CODES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeTooSkewed', 'ServiceUnavailable', 'InternalError']);

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
    const kind = status >= 500 || status === 429 || TRANSIENT_CODES.has(err.name) ? 'unavailable' : 'io';
    return new StorageError(kind, `${what}: S3 ${err.name} (${status}) ${err.message}`, { cause: err });
  }
  // Network and timeout errors surface as plain errors (ECONNREFUSED, TimeoutError, ...).
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
