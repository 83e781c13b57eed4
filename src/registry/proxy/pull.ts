// A GET of a blob the proxied repository does not hold yet (docs/proxy.md). In
// order: a blob the cache holds for another repository is linked to this one
// once the upstream confirms (HEAD) that it serves it under this name, and served
// from the cache; else one pull, on any replica, fetches it (flight.ts, blobs.ts)
// while every other pull of it follows that fetch (follow.ts) and is then served.
import { randomUUID } from 'node:crypto';
import type { Digest } from '../../digest/digest.ts';
import { findBlob, findLinkedBlob } from '../../db/blobs.ts';
import { RegistryError } from '../../errors/codes.ts';
import type { RepoName } from '../../shared/names.ts';
import { mountBlob } from '../content/blobs.ts';
import type { RegistryContext } from '../context.ts';
import { cacheBlob, openUpstreamBlob } from './blobs.ts';
import { claim, fly, MAX_ATTEMPTS, type Flight } from './flight.ts';
import { finishFromCache, followFetch, VerifiedBody, type BlobSink } from './follow.ts';
import type { Proxy } from './proxy.ts';

/**
 * Sends the blob to `sink`, fetching it upstream only when no other pull is
 * already doing so. False when nothing was sent and the blob is now in the cache
 * for `name`: the caller serves it from there as any cached blob.
 */
export async function pullBlob(ctx: RegistryContext, proxy: Proxy, name: RepoName, digest: Digest, sink: BlobSink): Promise<boolean> {
  const cached = new CachedElsewhere(ctx, proxy, name, digest);
  const out = new VerifiedBody(digest, sink);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (!out.begun && (await cached.link())) return false;
    const flight = await claim(ctx, 'blob', digest.text, name, randomUUID());
    if (flight && !out.begun) {
      if (await fetchBlob(ctx, proxy, name, digest, flight, sink)) return true;
      continue; // committed by a fetch that ended just before this claim
    }
    if (flight) {
      // the fetch this pull followed died part-way: this pull fetches and sends the rest
      if (await fetchBlob(ctx, proxy, name, digest, flight, out.continuation())) {
        await out.finish();
        return true;
      }
      if (await finishFromCache(ctx, digest, out)) return true;
      continue;
    }
    if ((await followFetch(ctx, name, digest, out)) === 'served') {
      proxy.observer.pulled(prefixOf(proxy, name), 'blob', 'hit');
      return true;
    }
  }
  throw new RegistryError('UNAVAILABLE', `the upstream fetches of ${digest.text} kept failing`);
}

/** The one fetch: from the upstream into the cache and to this pull's client; false when the blob turned out cached already. */
async function fetchBlob(ctx: RegistryContext, proxy: Proxy, name: RepoName, digest: Digest, flight: Flight, sink: BlobSink): Promise<boolean> {
  let received = 0;
  let size: number | null = null;
  return fly(ctx, flight, () => ({ received, size }), async (beat) => {
    if (await findBlob(ctx.pool, digest)) return false;
    const blob = await openUpstreamBlob(proxy, name, digest, 'GET');
    size = blob.size;
    beat(); // the size now, so that followers may start at once
    proxy.observer.pulled(prefixOf(proxy, name), 'blob', 'miss');
    sink.start(blob.size);
    await cacheBlob(ctx, name, digest, blob, (chunk) => sink.send(chunk), { uploadId: flight.uploadId as string, received: (n) => (received += n) });
    return true;
  });
}

/**
 * A blob the cache holds (for this repository, or for another one) is linked to
 * this one. The repository check holds: a blob becomes visible in a proxied
 * repository only once the upstream confirms it serves it under this name, with
 * a HEAD (which Docker Hub does not count against its pull limit), asked once.
 */
class CachedElsewhere {
  private confirmed = false;
  private readonly ctx: RegistryContext;
  private readonly proxy: Proxy;
  private readonly name: RepoName;
  private readonly digest: Digest;

  constructor(ctx: RegistryContext, proxy: Proxy, name: RepoName, digest: Digest) {
    this.ctx = ctx;
    this.proxy = proxy;
    this.name = name;
    this.digest = digest;
  }

  async link(): Promise<boolean> {
    const { ctx, name, digest } = this;
    if (await findLinkedBlob(ctx.pool, name, digest)) return true;
    const row = await findBlob(ctx.pool, digest);
    if (!row) return false;
    if (!this.confirmed) {
      await openUpstreamBlob(this.proxy, name, digest, 'HEAD'); // BLOB_UNKNOWN, or another error, when it does not
      this.confirmed = true;
    }
    return mountBlob({ ...ctx, options: { ...ctx.options, autoMount: true } }, name, digest, null);
  }
}

function prefixOf(proxy: Proxy, name: RepoName): string {
  return proxy.route(name)?.upstream.prefix ?? '';
}
