// Manifests through the pull-through cache. A manifest fetched upstream is
// committed by putManifest, the commit protocol of a push, so a cached manifest
// is an ordinary row with its refcounts, events and GC. It is committed as a
// sparse manifest (docs/architecture.md, "Sparse manifests"): its layers and
// children are fetched only when a client asks for them, and each then attaches
// to it as a pushed blob would.
//
// By digest a manifest never changes, so a cached one is served for ever. By tag
// it is served for the tag TTL, then revalidated with a HEAD; when the upstream
// cannot be reached the cached one is served, marked stale.
import { createHash } from 'node:crypto';
import { RegistryError } from '../../errors/codes.ts';
import type { Reference, RepoName } from '../../shared/names.ts';
import type { RegistryContext } from '../context.ts';
import { getManifest, putManifest, type StoredManifest } from '../content/manifests.ts';
import { singleFlight } from './flight.ts';
import { confirmedByFetch, confirmTag, tagFresh } from './freshness.ts';
import type { Proxy } from './proxy.ts';
import { ACCEPT, keepsCached } from './revalidate.ts';
import { stallGuard, upstreamStatusError, type UpstreamClient, type UpstreamResponse } from './upstream.ts';

export interface ProxiedManifest {
  manifest: StoredManifest;
  /** Served from the cache because the upstream could not be asked: the client is told. */
  stale: boolean;
}

/** The manifest of a proxied repository: from the cache when it holds it (and, by tag, while fresh), else from upstream. */
export async function proxiedManifest(ctx: RegistryContext, proxy: Proxy, name: RepoName, ref: Reference): Promise<ProxiedManifest> {
  const route = proxy.route(name);
  if (!route) throw new RegistryError('UNKNOWN', `${name} is not proxied`);
  const prefix = route.upstream.prefix;
  try {
    const found = await resolve(ctx, proxy, route.client, route.remote, name, ref);
    proxy.observer.pulled(prefix, 'manifest', found.result);
    return { manifest: found.manifest, stale: found.result === 'stale' };
  } catch (err) {
    if (err instanceof RegistryError) proxy.observer.failed(prefix, err.code);
    throw err;
  }
}

type Found = { manifest: StoredManifest; result: 'hit' | 'miss' | 'stale' };

async function resolve(ctx: RegistryContext, proxy: Proxy, client: UpstreamClient, remote: string, name: RepoName, ref: Reference): Promise<Found> {
  const cached = await localManifest(ctx, name, ref);
  if (ref.kind === 'digest') {
    if (cached) return { manifest: cached, result: 'hit' };
    return once(ctx, name, ref, async () => ({ manifest: await fetchManifest(ctx, proxy, client, remote, name, ref), result: 'miss' }));
  }
  if (cached && (await tagFresh(ctx, proxy, name, ref.tag))) return { manifest: cached, result: 'hit' };
  return once(ctx, name, ref, async () => {
    try {
      const same = cached !== null && (await keepsCached(client, remote, ref.tag, cached.digest));
      const found: Found = same ? { manifest: cached, result: 'hit' } : { manifest: await fetchManifest(ctx, proxy, client, remote, name, ref), result: 'miss' };
      await confirmTag(ctx, proxy, name, ref.tag);
      return found;
    } catch (err) {
      if (!cached || !unreachable(err)) throw err;
      proxy.warn('serving a stale cached tag: the upstream could not revalidate it', { repository: name, tag: ref.tag, digest: cached.digest, reason: (err as Error).message });
      return { manifest: cached, result: 'stale' };
    }
  });
}

/**
 * Asks the upstream once however many pull the same reference at the same time,
 * on any replica (flight.ts): the others wait for that fetch and read the cache.
 * A tag is stale for them as for the fetch when the fetch did not confirm it
 * (asked in PostgreSQL: the fetch may run on another replica).
 */
function once(ctx: RegistryContext, name: RepoName, ref: Reference, fetch: () => Promise<Found>): Promise<Found> {
  const key = `${name}${ref.kind === 'tag' ? `:${ref.tag}` : `@${ref.digest.text}`}`;
  return singleFlight(ctx, 'manifest', key, name, fetch, async (watched) => {
    const manifest = await localManifest(ctx, name, ref);
    if (!manifest) return null;
    if (ref.kind === 'digest') return { manifest, result: 'hit' };
    // the fetch ended before this pull saw when it began: whether it confirmed the tag is unknown, so this pull asks itself
    if (!watched) return null;
    return { manifest, result: (await confirmedByFetch(ctx, name, ref.tag, watched.started_at)) ? 'hit' : 'stale' };
  });
}

async function localManifest(ctx: RegistryContext, name: RepoName, ref: Reference): Promise<StoredManifest | null> {
  try {
    return await getManifest(ctx, name, ref);
  } catch (err) {
    if (err instanceof RegistryError && err.code === 'MANIFEST_UNKNOWN') return null;
    throw err;
  }
}

/** Failures that say nothing about the tag itself: the cached answer is still the best one. */
function unreachable(err: unknown): boolean {
  return err instanceof RegistryError && (err.code === 'UNAVAILABLE' || err.code === 'TOOMANYREQUESTS');
}

/** GETs the manifest upstream, checks it is what was asked for, and commits it as a push would. */
async function fetchManifest(ctx: RegistryContext, proxy: Proxy, client: UpstreamClient, remote: string, name: RepoName, ref: Reference): Promise<StoredManifest> {
  const res = await client.request('GET', remote, `manifests/${ref.kind === 'tag' ? ref.tag : ref.digest.text}`, ACCEPT);
  if (res.status !== 200) {
    res.abort(new Error('not read'));
    throw upstreamStatusError(client.options.prefix, res.status, res.headers, 'MANIFEST_UNKNOWN');
  }
  const content = await readLimited(res, ctx.options.maxManifestBytes, client.options.prefix);
  proxy.observer.received(client.options.prefix, content.length);
  const announced = res.headers.get('docker-content-digest');
  const sha256 = `sha256:${createHash('sha256').update(content).digest('hex')}`;
  if (ref.kind === 'tag' && announced?.startsWith('sha256:') && announced !== sha256) {
    throw new RegistryError('UNAVAILABLE', `upstream ${client.options.prefix} sent a manifest whose digest is ${sha256}, not the ${announced} it announced`);
  }
  const sparse = { ...ctx, options: { ...ctx.options, sparseManifests: true } };
  try {
    await putManifest(sparse, name, ref, content, res.headers.get('content-type') ?? undefined);
  } catch (err) {
    // the upstream's content, not the client's request, is at fault: a wrong digest or a manifest Bollard refuses
    if (err instanceof RegistryError && (err.code === 'DIGEST_INVALID' || err.code === 'MANIFEST_INVALID')) {
      throw new RegistryError('UNAVAILABLE', `upstream ${client.options.prefix} sent a manifest that cannot be cached: ${err.message}`);
    }
    throw err;
  }
  return getManifest(ctx, name, ref);
}

/** The whole body, at most `limit` bytes, never stalling longer than the upstream's timeout. */
async function readLimited(res: UpstreamResponse, limit: number, prefix: string): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const guard = stallGuard(res);
  try {
    for await (const chunk of res.body) {
      guard.touch();
      size += chunk.byteLength;
      if (size > limit) {
        res.abort(new Error('too large'));
        throw new RegistryError('UNAVAILABLE', `upstream ${prefix} sent a manifest over ${limit} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof RegistryError) throw err;
    throw new RegistryError('UNAVAILABLE', `upstream ${prefix} broke off a manifest: ${(err as Error).message}`);
  } finally {
    guard.stop();
  }
  return Buffer.concat(chunks);
}
