// Paged listings: tags, repositories (catalog) and referrers. Each page asks
// for one row more than it returns, to know whether a next page exists.
import type { Digest } from '../../digest/digest.ts';
import { listReferrers, lookupNames, type ReferrerRow } from '../../db/manifests.ts';
import { findRepository, listRepositories } from '../../db/repositories.ts';
import { listTags } from '../../db/tags.ts';
import { RegistryError } from '../../errors/codes.ts';
import type { RegistryContext } from '../context.ts';
import type { RepoName } from '../../shared/names.ts';

export interface PageRequest {
  /** Requested page size; null when the client gave none. */
  n: number | null;
  last: string | null;
}

export interface Page<T> {
  items: readonly T[];
  /** The `last` value for the next page, or null on the final page. */
  next: string | null;
}

function pageLimit(ctx: RegistryContext, req: PageRequest): number {
  return Math.min(req.n ?? ctx.options.pageSizeMax, ctx.options.pageSizeMax);
}

function toPage<T>(rows: readonly T[], limit: number, cursor: (t: T) => string): Page<T> {
  if (rows.length <= limit) return { items: rows, next: null };
  const items = rows.slice(0, limit);
  return { items, next: cursor(items[items.length - 1] as T) };
}

export async function tagsPage(ctx: RegistryContext, name: RepoName, req: PageRequest): Promise<Page<string>> {
  const repositoryId = await findRepository(ctx.pool, name);
  if (repositoryId === null) throw new RegistryError('NAME_UNKNOWN', { name });
  const limit = pageLimit(ctx, req);
  if (limit === 0) return { items: [], next: null };
  return toPage(await listTags(ctx.pool, repositoryId, req.last, limit + 1), limit, (t) => t);
}

/** `visible`: regexes of the repositories the caller may see (token auth); null: all. */
export async function catalogPage(ctx: RegistryContext, req: PageRequest, visible: readonly string[] | null = null): Promise<Page<string>> {
  const limit = pageLimit(ctx, req);
  if (limit === 0) return { items: [], next: null };
  return toPage(await listRepositories(ctx.pool, req.last, limit + 1, visible), limit, (r) => r);
}

export async function referrersPage(
  ctx: RegistryContext,
  name: RepoName,
  subject: Digest,
  artifactType: string | null,
  req: PageRequest,
): Promise<Page<ReferrerRow>> {
  const repositoryId = await findRepository(ctx.pool, name);
  if (repositoryId === null) return { items: [], next: null };
  const limit = Math.max(pageLimit(ctx, req), 1);
  // a referrer may name its subject by either digest; each is reported in the algorithm asked with
  const [named] = await lookupNames(ctx.pool, repositoryId, subject.text);
  const subjects = named ? [named.digest, named.digest_sha512] : [subject.text];
  const rows = await listReferrers(ctx.pool, repositoryId, subjects, { algorithm: subject.algorithm, artifactType, last: req.last, limit: limit + 1 });
  return toPage(rows, limit, (r) => r.digest);
}
