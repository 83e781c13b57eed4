// The HTTP side of the pull-through cache (docs/proxy.md): a blob the cache does
// not hold yet is streamed from the upstream while it is stored (once, however
// many pull it at the same time), and writes into a proxied repository are refused.
import type { Request, Response } from 'express';
import type { Digest } from '../digest/digest.ts';
import { RegistryError } from '../errors/codes.ts';
import type { RegistryContext } from '../registry/context.ts';
import { openUpstreamBlob } from '../registry/proxy/blobs.ts';
import { pullBlob } from '../registry/proxy/pull.ts';
import type { RepoName } from '../shared/names.ts';

/** True when a miss on `name` is for the upstream to answer. */
export function isProxied(ctx: RegistryContext, name: RepoName, err: unknown, code: 'BLOB_UNKNOWN' | 'MANIFEST_UNKNOWN'): boolean {
  return !!ctx.proxy?.route(name) && err instanceof RegistryError && err.code === code;
}

/**
 * Serves a blob the repository does not hold yet: a HEAD is answered by the
 * upstream's HEAD (nothing is stored); a GET is streamed from the upstream while
 * it is stored, or follows the fetch another pull runs (src/registry/proxy/pull.ts).
 * A Range is not honoured on this first pull (the whole blob is sent); later
 * pulls are served from the cache, ranges included. False when nothing was sent
 * and the blob is now cached for `name`: the caller serves it from the cache.
 */
export async function sendProxiedBlob(ctx: RegistryContext, req: Request, res: Response, name: RepoName, digest: Digest, write: (chunk: Buffer) => Promise<void>): Promise<boolean> {
  const proxy = ctx.proxy!;
  const prefix = proxy.route(name)?.upstream.prefix ?? '';
  const sink = {
    started: false,
    start(size: number | null) {
      this.started = true;
      res.status(200);
      res.setHeader('Docker-Content-Digest', digest.text);
      res.setHeader('Content-Type', 'application/octet-stream');
      if (size !== null) res.setHeader('Content-Length', size);
    },
    send: write,
  };
  try {
    if (req.method === 'HEAD') {
      const blob = await openUpstreamBlob(proxy, name, digest, 'HEAD');
      proxy.observer.pulled(prefix, 'blob', 'miss');
      sink.start(blob.size);
    } else if (!(await pullBlob(ctx, proxy, name, digest, sink))) {
      return false;
    }
    res.end();
  } catch (err) {
    if (err instanceof RegistryError) proxy.observer.failed(prefix, err.code);
    if (res.destroyed) return true;
    if (!res.headersSent) {
      res.removeHeader('Docker-Content-Digest');
      res.removeHeader('Content-Length');
      throw err;
    }
    // part of the body is out: cutting the connection short of its length is the only signal left
    res.destroy(err as Error);
  }
  return true;
}

/** Counts a pull of a proxied repository's blob that the cache held. */
export function noteCachedBlob(ctx: RegistryContext, name: RepoName): void {
  const prefix = ctx.proxy?.route(name)?.upstream.prefix;
  if (prefix !== undefined) ctx.proxy?.observer.pulled(prefix, 'blob', 'hit');
}

/** A write into a proxied repository is refused (its content is the upstream's) unless its upstream allows pushes. */
export function refuseProxiedWrite(ctx: RegistryContext, name: RepoName): void {
  const claim = ctx.proxy?.claim(name);
  if (claim && !claim.upstream.pushes) throw new RegistryError('DENIED', `${name} is a pull-through cache of ${claim.upstream.url}; it takes no pushes or deletes`);
}
