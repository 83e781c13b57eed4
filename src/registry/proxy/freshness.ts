// Whether a cached tag may be served without asking the upstream: confirmed less
// than the tag TTL ago, by any replica, before a restart too. The database holds
// the truth (src/db/proxy-tags.ts); this process's memory (Proxy) spares it a
// query for a tag it confirmed or looked up itself.
import { confirmTagRow, tagConfirmedAgo, tagConfirmedSince } from '../../db/proxy-tags.ts';
import type { RepoName } from '../../shared/names.ts';
import type { RegistryContext } from '../context.ts';
import type { Proxy } from './proxy.ts';

export async function tagFresh(ctx: RegistryContext, proxy: Proxy, name: RepoName, tag: string): Promise<boolean> {
  if (proxy.isFresh(name, tag)) return true;
  const ago = await tagConfirmedAgo(ctx.pool, name, tag);
  if (ago === null || ago >= proxy.tagTtlMs(name)) return false;
  proxy.confirm(name, tag, Date.now() - ago);
  return true;
}

/**
 * Whether the fetch a pull waited for (single-flight: flight.ts) confirmed the
 * tag: it began at `fetchStarted` (its row's started_at). When it did not, it
 * could not reach the upstream (or its process died) and the cached manifest is
 * stale for the waiter as for the fetch.
 */
export function confirmedByFetch(ctx: RegistryContext, name: RepoName, tag: string, fetchStarted: string): Promise<boolean> {
  return tagConfirmedSince(ctx.pool, name, tag, fetchStarted);
}

export async function confirmTag(ctx: RegistryContext, proxy: Proxy, name: RepoName, tag: string): Promise<void> {
  proxy.confirm(name, tag);
  await confirmTagRow(ctx.pool, name, tag);
}
