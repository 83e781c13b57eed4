// Whether a cached tag may be served without asking the upstream: confirmed less
// than the tag TTL ago, by any replica, before a restart too. The database holds
// the truth (src/db/proxy-tags.ts); this process's memory (Proxy) spares it a
// query for a tag it confirmed or looked up itself.
import { confirmTagRow, tagConfirmedAgo } from '../../db/proxy-tags.ts';
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

export async function confirmTag(ctx: RegistryContext, proxy: Proxy, name: RepoName, tag: string): Promise<void> {
  proxy.confirm(name, tag);
  await confirmTagRow(ctx.pool, name, tag);
}
