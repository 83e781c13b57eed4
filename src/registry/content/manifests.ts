import { createHash } from 'node:crypto';
import { digestFromBuffer, type Digest } from '../../digest/digest.ts';
import { appendEvent } from '../../db/events.ts';
import { notifyManifestChange } from '../../db/notify.ts';
import * as q from '../../db/manifests.ts';
import { ensureRepository, findRepository, lockRepositoryForWrite } from '../../db/repositories.ts';
import { deleteTag, deleteTagsOf, setTag } from '../../db/tags.ts';
import { RegistryError } from '../../errors/codes.ts';
import type { CommonQueryMethods } from 'slonik';
import type { RegistryContext } from '../context.ts';
import { guardManifestDelete, guardTagDelete, guardTagMove } from './immutable-tags.ts';
import { parseManifest, type Descriptor, type ParsedManifest } from './manifest-parse.ts';
import type { Reference, RepoName } from '../../shared/names.ts';

export interface StoredManifest {
  digest: string;
  mediaType: string;
  content: Buffer;
}

export interface PutResult {
  digest: Digest;
  subject: Digest | null;
}

export async function getManifest(ctx: RegistryContext, name: RepoName, ref: Reference): Promise<StoredManifest> {
  const key = ref.kind === 'tag' ? ref.tag : ref.digest.text;
  const cached = ctx.manifests.get(name, key);
  if (cached) return cached;
  const generation = ctx.manifests.generation(name);
  const row = await q.lookupManifest(ctx.pool, name, ref.kind === 'tag' ? { tag: ref.tag } : { digest: ref.digest.text });
  if (!row) throw new RegistryError('MANIFEST_UNKNOWN', ref.kind === 'tag' ? { tag: ref.tag } : { digest: ref.digest.text });
  const found = { digest: row.digest, mediaType: row.media_type, content: row.content };
  ctx.manifests.set(name, key, found, generation);
  return found;
}

export async function putManifest(
  ctx: RegistryContext,
  name: RepoName,
  ref: Reference,
  content: Buffer,
  contentType: string | undefined,
): Promise<PutResult> {
  const parsed = parseManifest(content, contentType);
  const algorithm = ref.kind === 'digest' ? ref.digest.algorithm : 'sha256';
  const digest = digestFromBuffer(algorithm, createHash(algorithm).update(content).digest());
  if (ref.kind === 'digest' && ref.digest.text !== digest.text) {
    throw new RegistryError('DIGEST_INVALID', { expected: ref.digest.text, computed: digest.text });
  }
  await ctx.pool.transaction(async (tx) => {
    const repositoryId = await ensureRepository(tx, name);
    await lockRepositoryForWrite(tx, repositoryId);
    let manifest = await q.findManifestByDigest(tx, repositoryId, digest.text);
    let manifestId = manifest?.id ?? null;
    if (manifestId === null) {
      const childIds = await resolveChildren(tx, repositoryId, parsed.children);
      const blobIds = await resolveBlobs(tx, repositoryId, parsed.blobs);
      manifestId = await q.insertManifest(tx, {
        repositoryId,
        digest: digest.text,
        mediaType: parsed.mediaType,
        artifactType: parsed.artifactType,
        subject: parsed.subject?.text ?? null,
        annotations: parsed.annotations,
        content,
        blobIds,
        childIds,
      });
      await appendEvent(tx, { kind: 'manifest.push', repository: name, digest: digest.text, mediaType: parsed.mediaType, size: content.length });
    }
    if (ref.kind === 'tag') {
      await guardTagMove(tx, name, repositoryId, ref.tag, manifestId);
      const old = await setTag(tx, repositoryId, ref.tag, manifestId);
      if (old !== manifestId) {
        await appendEvent(tx, { kind: 'tag.set', repository: name, tag: ref.tag, digest: digest.text });
        await notifyManifestChange(tx, name);
      }
    }
  });
  if (ref.kind === 'tag') ctx.manifests.invalidate(name);
  return { digest, subject: parsed.subject };
}

function uniqueByDigest(descriptors: Descriptor[]): Descriptor[] {
  const seen = new Map<string, Descriptor>();
  for (const d of descriptors) {
    const prior = seen.get(d.digest.text);
    if (prior && prior.size !== d.size) {
      throw new RegistryError('MANIFEST_INVALID', `descriptors for ${d.digest.text} disagree on its size`);
    }
    seen.set(d.digest.text, d);
  }
  return [...seen.values()];
}

/** Locks the repository's links to the listed blobs; each must exist with the declared size. */
async function resolveBlobs(tx: CommonQueryMethods, repositoryId: number, descriptors: Descriptor[]): Promise<number[]> {
  const wanted = uniqueByDigest(descriptors);
  const hexes = { sha256: [] as Buffer[], sha512: [] as Buffer[] };
  for (const d of wanted) hexes[d.digest.algorithm].push(Buffer.from(d.digest.hex, 'hex'));
  const rows = await q.lockLinkedBlobs(tx, repositoryId, hexes);
  const found = new Map<string, { id: number; size: number }>();
  for (const r of rows) {
    if (r.sha256) found.set(`sha256:${r.sha256}`, { id: r.blob_id, size: r.size });
    if (r.sha512) found.set(`sha512:${r.sha512}`, { id: r.blob_id, size: r.size });
  }
  return checkAll(wanted, found, 'blob');
}

async function resolveChildren(tx: CommonQueryMethods, repositoryId: number, descriptors: Descriptor[]): Promise<number[]> {
  const wanted = uniqueByDigest(descriptors);
  const rows = await q.lockManifestsByDigest(tx, repositoryId, wanted.map((d) => d.digest.text));
  return checkAll(wanted, new Map(rows.map((r) => [r.digest, r])), 'manifest');
}

function checkAll(wanted: Descriptor[], found: Map<string, { id: number; size: number }>, what: string): number[] {
  const ids = new Set<number>();
  for (const d of wanted) {
    const hit = found.get(d.digest.text);
    if (!hit) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', { digest: d.digest.text, reason: `${what} not found in repository` });
    if (hit.size !== d.size) {
      throw new RegistryError('MANIFEST_INVALID', `${what} ${d.digest.text} has size ${hit.size}, the manifest says ${d.size}`);
    }
    ids.add(hit.id);
  }
  return [...ids].sort((a, b) => a - b);
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
      throw new RegistryError('DENIED', `manifest ${ref.digest.text} is listed by index ${parents.join(', ')}; delete the index first`);
    }
    await guardManifestDelete(tx, name, row.id, ref.digest.text);
    for (const tag of await deleteTagsOf(tx, row.id)) await appendEvent(tx, { kind: 'tag.delete', repository: name, tag });
    await q.deleteManifestRow(tx, repositoryId, row.id);
    await appendEvent(tx, { kind: 'manifest.delete', repository: name, digest: ref.digest.text });
  });
  ctx.manifests.invalidate(name);
}

export type { ParsedManifest };
