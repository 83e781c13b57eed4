// The HTTP side of the pull-through cache (docs/proxy.md): a blob the cache does
// not hold yet is streamed from the upstream while it is stored, and writes into
// a proxied repository are refused.
import type { Request, Response } from 'express';
import type { Digest } from '../digest/digest.ts';
import { RegistryError } from '../errors/codes.ts';
import type { RegistryContext } from '../registry/context.ts';
import { cacheBlob, openUpstreamBlob } from '../registry/proxy/blobs.ts';
import type { RepoName } from '../shared/names.ts';

/** True when a miss on `name` is for the upstream to answer. */
export function isProxied(ctx: RegistryContext, name: RepoName, err: unknown, code: 'BLOB_UNKNOWN' | 'MANIFEST_UNKNOWN'): boolean {
  return !!ctx.proxy?.route(name) && err instanceof RegistryError && err.code === code;
}

/**
 * Serves a blob from the upstream, caching it on the way. A Range is not honoured
 * on this first pull (the whole blob is fetched and stored once); later pulls are
 * served from the cache, ranges included.
 */
export async function sendProxiedBlob(ctx: RegistryContext, req: Request, res: Response, name: RepoName, digest: Digest, write: (chunk: Buffer) => Promise<void>): Promise<void> {
  const head = req.method === 'HEAD';
  const proxy = ctx.proxy!;
  const prefix = proxy.route(name)?.upstream.prefix ?? '';
  const blob = await openUpstreamBlob(proxy, name, digest, head ? 'HEAD' : 'GET').catch((err: unknown) => {
    if (err instanceof RegistryError) proxy.observer.failed(prefix, err.code);
    throw err;
  });
  proxy.observer.pulled(prefix, 'blob', 'miss');
  res.status(200);
  res.setHeader('Docker-Content-Digest', digest.text);
  res.setHeader('Content-Type', 'application/octet-stream');
  if (blob.size !== null) res.setHeader('Content-Length', blob.size);
  if (head) {
    res.end();
    return;
  }
  try {
    await cacheBlob(ctx, name, digest, blob, write);
    res.end();
  } catch (err) {
    if (err instanceof RegistryError) proxy.observer.failed(prefix, err.code);
    if (res.destroyed) return;
    if (!res.headersSent) {
      res.removeHeader('Docker-Content-Digest');
      res.removeHeader('Content-Length');
      throw err;
    }
    // part of the body is out: cutting the connection short of its length is the only signal left
    res.destroy(err as Error);
  }
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
