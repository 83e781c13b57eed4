// Blobs through the pull-through cache. One upstream fetch feeds both the client
// and the store: each chunk goes to the client, then on into the path of a
// monolithic upload (src/registry/push/uploads.ts), which hashes it (SHA-256 and
// BLAKE3 in one pass), verifies the digest, and commits the blob as a push would.
// So nothing commits unless every byte matched the digest.
//
// The last chunk is held back until that verification: a client is sent a whole
// body only for a blob that verified, and for a wrong or truncated one it sees the
// connection cut short of the announced length, never a complete wrong blob.
import { pipeline, Transform } from 'node:stream';
import type { Digest } from '../../digest/digest.ts';
import { RegistryError } from '../../errors/codes.ts';
import type { RepoName } from '../../shared/names.ts';
import type { RegistryContext } from '../context.ts';
import { monolithicUpload } from '../push/uploads.ts';
import type { Proxy } from './proxy.ts';
import { stallGuard, upstreamStatusError, type UpstreamResponse } from './upstream.ts';

export interface UpstreamBlob {
  /** From the upstream's Content-Length; null when it sent none. */
  size: number | null;
  /** The open response: pass it to cacheBlob (GET), or nothing to read (HEAD). */
  response: UpstreamResponse;
}

/** Asks the upstream for the blob of a proxied repository (GET or HEAD); a clean OCI error when it cannot serve it. */
export async function openUpstreamBlob(proxy: Proxy, name: RepoName, digest: Digest, method: 'GET' | 'HEAD'): Promise<UpstreamBlob> {
  const route = proxy.route(name);
  if (!route) throw new RegistryError('BLOB_UNKNOWN', { digest: digest.text });
  const res = await route.client.request(method, route.remote, `blobs/${digest.text}`);
  if (res.status !== 200) {
    res.abort(new Error('not read'));
    throw upstreamStatusError(route.upstream.prefix, res.status, res.headers, 'BLOB_UNKNOWN');
  }
  const length = res.headers.get('content-length');
  return { size: length !== null && /^\d+$/.test(length) ? Number(length) : null, response: res };
}

/** Where the single-flight (flight.ts) follows the fetch: the staging's id, and the bytes received. */
export interface Staging {
  uploadId: string;
  received(bytes: number): void;
}

/**
 * Streams the upstream body to `send` while storing it, and commits the blob once
 * verified; `send` is then given the held-back last chunk. When the client goes
 * away (send rejects) the blob is still stored: the fetch was paid for. Rejects
 * with an UNAVAILABLE error when the upstream breaks off, stalls or sends other
 * bytes than the digest names; nothing is committed then.
 */
export async function cacheBlob(ctx: RegistryContext, name: RepoName, digest: Digest, blob: UpstreamBlob, send: (chunk: Buffer) => Promise<void>, staging?: Staging): Promise<void> {
  const res = blob.response;
  const observer = ctx.proxy?.observer;
  const prefix = ctx.proxy?.route(name)?.upstream.prefix ?? '';
  if (!res.body) throw new RegistryError('UNAVAILABLE', 'upstream sent no body');
  const guard = stallGuard(res);
  let upstreamFailure: Error | null = null;
  let held: Buffer | null = null;
  let clientGone = false;
  const deliver = async (chunk: Buffer) => {
    if (clientGone) return;
    await send(chunk).catch(() => {
      clientGone = true;
    });
  };
  const upstream = res.body;
  upstream.on('data', (chunk: Buffer) => {
    guard.touch();
    observer?.received(prefix, chunk.length);
  });
  const tee = new Transform({
    transform(chunk: Buffer, _enc, done) {
      staging?.received(chunk.length);
      const previous = held;
      held = chunk;
      if (!previous) return done(null, chunk);
      deliver(previous).then(() => done(null, chunk), done);
    },
  });
  pipeline(upstream, tee, (err) => {
    guard.stop();
    if (err) upstreamFailure = err;
  });
  try {
    await monolithicUpload(ctx, name, digest, tee, staging?.uploadId);
  } catch (err) {
    guard.stop();
    upstream.destroy();
    if (err instanceof RegistryError && err.code === 'DIGEST_INVALID') {
      throw new RegistryError('UNAVAILABLE', `upstream sent other bytes than ${digest.text}; nothing was cached`);
    }
    // the pipeline's callback may not have run yet: the streams know their own error
    const failure = upstreamFailure ?? upstream.errored ?? tee.errored;
    if (failure) throw new RegistryError('UNAVAILABLE', `upstream broke off ${digest.text}: ${reasonOf(failure)}; nothing was cached`);
    throw err;
  }
  if (held) await deliver(held);
}

function reasonOf(err: Error): string {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : err.message;
}
