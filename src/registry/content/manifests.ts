import type { Digest } from '../../digest/digest.ts';
import { appendEvent } from '../../db/events.ts';
import { notifyManifestChange } from '../../db/notify.ts';
import * as q from '../../db/manifests.ts';
import { findRepository, lockRepositoryForWrite } from '../../db/repositories.ts';
import { deleteTag, deleteTagsOf } from '../../db/tags.ts';
import { RegistryError } from '../../errors/codes.ts';
import type { CommonQueryMethods } from 'slonik';
import type { RegistryContext } from '../context.ts';
import { guardManifestDelete, guardTagDelete } from './immutable-tags.ts';
import { prepareChange } from './manifest-commit.ts';
import type { ParsedManifest } from './manifest-parse.ts';
import { MANIFEST_METHODS, referencedError } from './referenced.ts';
import type { Reference, RepoName, Tag } from '../../shared/names.ts';

export interface StoredManifest {
  /** the row's id, which pulls are recorded by */
  id: number;
  digest: string;
  mediaType: string;
  content: Buffer;
}

export interface PutResult {
  /** The name the client pushed by: its digest, or the sha256 name for a push by tag. */
  digest: Digest;
  subject: Digest | null;
  /** Every tag now naming the manifest by this push. */
  tags: Tag[];
}

/**
 * By digest, a manifest answers in the name asked for; by tag, in the algorithm the
 * tag was pushed with (docs/architecture.md, "Digest names").
 */
function nameOf(row: q.ManifestRow, asked: string | null): string {
  if (asked !== null) return asked;
  return row.algorithm === 'sha512' ? row.digest_sha512 : row.digest;
}

export async function getManifest(ctx: RegistryContext, name: RepoName, ref: Reference): Promise<StoredManifest> {
  const key = ref.kind === 'tag' ? ref.tag : ref.digest.text;
  const cached = ctx.manifests.get(name, key);
  if (cached) return cached;
  const generation = ctx.manifests.generation(name);
  const row = await q.lookupManifest(ctx.pool, name, ref.kind === 'tag' ? { tag: ref.tag } : { digest: ref.digest.text });
  if (!row) throw new RegistryError('MANIFEST_UNKNOWN', ref.kind === 'tag' ? { tag: ref.tag } : { digest: ref.digest.text });
  const found = { id: row.id, digest: nameOf(row, ref.kind === 'digest' ? ref.digest.text : null), mediaType: row.media_type, content: row.content };
  ctx.manifests.set(name, key, found, generation);
  return found;
}

/**
 * Pushes a manifest by tag or digest; `extraTags` are the `?tag=` parameters of a push
 * by digest, each set in the same transaction. A tag remembers the algorithm of the push.
 */
export async function putManifest(
  ctx: RegistryContext,
  name: RepoName,
  ref: Reference,
  content: Buffer,
  contentType: string | undefined,
  extraTags: Tag[] = [],
): Promise<PutResult> {
  const change = prepareChange(name, ref, content, contentType, extraTags, ctx.options.sparseManifests === true);
  await ctx.commits.submit(name, change);
  if (change.tags.length > 0) ctx.manifests.invalidate(name);
  return { digest: change.pushedAs, subject: change.parsed.subject, tags: change.tags };
}

export async function deleteManifest(ctx: RegistryContext, name: RepoName, ref: Reference): Promise<void> {
  if (!ctx.options.deleteEnabled) throw new RegistryError('UNSUPPORTED', 'deletes are disabled on this registry');
  const repositoryId = await findRepository(ctx.pool, name);
  const unknown = new RegistryError('MANIFEST_UNKNOWN', ref.kind === 'tag' ? { tag: ref.tag } : { digest: ref.digest.text });
  if (repositoryId === null) throw unknown;
  await ctx.pool.transaction(async (tx) => {
    await lockRepositoryForWrite(tx, repositoryId);
    await notifyManifestChange(tx, name);
    if (ref.kind === 'tag') {
      await guardTagDelete(tx, name, repositoryId, ref.tag);
      if ((await deleteTag(tx, repositoryId, ref.tag)) === null) throw unknown;
      await appendEvent(tx, { kind: 'tag.delete', repository: name, tag: ref.tag });
      return;
    }
    const [row] = await q.lockManifestsByDigest(tx, repositoryId, [ref.digest.text]);
    if (!row) throw unknown;
    const parents = await q.countParents(tx, row.id);
    if (parents.length > 0) {
      throw referencedError(`manifest ${ref.digest.text} is listed by index ${parents.join(', ')}; delete the index first`, MANIFEST_METHODS);
    }
    await guardManifestDelete(tx, name, row.id, ref.digest.text);
    for (const tag of await deleteTagsOf(tx, row.id)) await appendEvent(tx, { kind: 'tag.delete', repository: name, tag });
    await q.deleteManifestRow(tx, repositoryId, row.id);
    await appendEvent(tx, { kind: 'manifest.delete', repository: name, digest: row.digest });
  });
  ctx.manifests.invalidate(name);
}

export type { ParsedManifest };
