// The commit of pushed manifests and tags (docs/architecture.md, "The commit protocol
// of a manifest"). Every change to one repository's manifests or tags waits for its
// repository row, so concurrent pushes to one repository commit one after another,
// each paying its own WAL flush. Instead, the pushes a process receives for one
// repository while a commit of it is in flight queue, and the next commit applies them
// all in one transaction: one lock, one flush, each change with its own checks and
// events, in arrival order. Each client is answered after that durable commit.
import { createHash } from 'node:crypto';
import type { DatabasePool, CommonQueryMethods } from 'slonik';
import { appendEvents, type RegistryEvent } from '../../db/events.ts';
import { attachManifest, insertAbsent } from '../../db/manifest-absent.ts';
import * as q from '../../db/manifests.ts';
import { notifyManifestChange } from '../../db/notify.ts';
import { lockRepositoryByName } from '../../db/repositories.ts';
import { addToRefcounts, insertNewTags, setTag } from '../../db/tags.ts';
import { digestFromBuffer, type Digest, type DigestAlgorithm } from '../../digest/digest.ts';
import { RegistryError } from '../../errors/codes.ts';
import type { Reference, RepoName, Tag } from '../../shared/names.ts';
import { KeyedBatcher, type Settled } from './keyed-batcher.ts';
import { guardTagMove, immutableRulesOf, type TagMatcher } from './immutable-tags.ts';
import { parseManifest, type ParsedManifest } from './manifest-parse.ts';
import { resolveBlobs, resolveChildren } from './manifest-refs.ts';

/** One push, parsed and hashed before it queues: what its commit writes. */
export interface ManifestChange {
  name: RepoName;
  content: Buffer;
  parsed: ParsedManifest;
  sha256: Digest;
  sha512: Digest;
  /** The name the client pushed by (its events and tags use it). */
  pushedAs: Digest;
  tags: Tag[];
  sparse: boolean;
}

function nameIn(algorithm: DigestAlgorithm, content: Buffer): Digest {
  return digestFromBuffer(algorithm, createHash(algorithm).update(content).digest());
}

/** Parses and hashes a push, before it queues for its commit and outside any lock. */
export function prepareChange(name: RepoName, ref: Reference, content: Buffer, contentType: string | undefined, extraTags: Tag[], sparse: boolean): ManifestChange {
  const parsed = parseManifest(content, contentType);
  const sha256 = nameIn('sha256', content);
  const sha512 = nameIn('sha512', content);
  const pushedAs = ref.kind === 'digest' && ref.digest.algorithm === 'sha512' ? sha512 : sha256;
  if (ref.kind === 'digest' && ref.digest.text !== pushedAs.text) {
    throw new RegistryError('DIGEST_INVALID', { expected: ref.digest.text, computed: pushedAs.text });
  }
  const tags = [...new Set(ref.kind === 'tag' ? [ref.tag, ...extraTags] : extraTags)];
  return { name, content, parsed, sha256, sha512, pushedAs, tags, sparse };
}

/**
 * What the changes of one transaction have read, so later ones skip the query, and what
 * they leave to its end: refcount deltas and events, each written once for the batch.
 */
interface TxMemo {
  repositoryId: number;
  manifestIds: Map<string, number>;
  rules?: TagMatcher | null;
  refcounts: Map<number, number>;
  events: RegistryEvent[];
  /** Tag sets left to the end of the transaction, where the batch's new tags are inserted in one statement. */
  deferred: TagIntent[];
}

interface TagIntent {
  tag: Tag;
  manifestId: number;
  algorithm: 'sha256' | 'sha512';
  /** Its tag.set event, in its place among the batch's events; dropped if the set changes nothing. */
  event: RegistryEvent;
}

async function applyChange(tx: CommonQueryMethods, memo: TxMemo, c: ManifestChange): Promise<void> {
  const { repositoryId } = memo;
  // unlocked, as before: the repository row serialises this, and the tag locks (order 2) come next
  let manifestId = memo.manifestIds.get(c.sha256.text) ?? (await q.lookupNames(tx, repositoryId, c.sha256.text))[0]?.id ?? null;
  if (manifestId === null) {
    const children = await resolveChildren(tx, repositoryId, c.parsed.children, c.sparse);
    const blobs = await resolveBlobs(tx, repositoryId, c.parsed.blobs, c.sparse);
    manifestId = await q.insertManifest(tx, {
      repositoryId,
      digest: c.sha256.text,
      digestSha512: c.sha512.text,
      mediaType: c.parsed.mediaType,
      artifactType: c.parsed.artifactType,
      subject: c.parsed.subject?.text ?? null,
      annotations: c.parsed.annotations,
      content: c.content,
      blobIds: blobs.ids,
      childIds: children.ids,
    });
    await insertAbsent(tx, repositoryId, manifestId, [...children.absent, ...blobs.absent]);
    await attachManifest(tx, repositoryId, { id: manifestId, size: c.content.length, names: [c.sha256.text, c.sha512.text] });
    memo.events.push({ kind: 'manifest.push', repository: c.name, digest: c.pushedAs.text, mediaType: c.parsed.mediaType, size: c.content.length });
  }
  memo.manifestIds.set(c.sha256.text, manifestId);
  if (c.tags.length > 0 && memo.rules === undefined) memo.rules = await immutableRulesOf(tx, c.name);
  for (const tag of c.tags) {
    const event: RegistryEvent = { kind: 'tag.set', repository: c.name, tag, digest: c.pushedAs.text };
    if (memo.rules === null) {
      // no immutable rule guards this repository's tags, so no change of the batch reads them before its end
      memo.events.push(event);
      memo.deferred.push({ tag, manifestId, algorithm: c.pushedAs.algorithm, event });
      continue;
    }
    await guardTagMove(tx, c.name, repositoryId, tag, manifestId, memo.rules ?? null);
    if (await setTag(tx, repositoryId, tag, manifestId, c.pushedAs.algorithm, memo.refcounts)) memo.events.push(event);
  }
}

/**
 * Sets the deferred tags with the outcome of setting them one by one in order: the first
 * set of each name the repository lacks is inserted by one statement for the batch; the
 * others (moves, and later sets of the same name) follow one by one, in order.
 */
async function setDeferredTags(tx: CommonQueryMethods, memo: TxMemo): Promise<void> {
  if (memo.deferred.length === 0) return;
  const firsts = new Map<string, TagIntent>();
  for (const t of memo.deferred) if (!firsts.has(t.tag)) firsts.set(t.tag, t);
  const created = await insertNewTags(tx, memo.repositoryId, [...firsts.values()], memo.refcounts);
  const unchanged = new Set<RegistryEvent>();
  for (const t of memo.deferred) {
    if (created.has(t.tag) && firsts.get(t.tag) === t) continue;
    if (!(await setTag(tx, memo.repositoryId, t.tag, t.manifestId, t.algorithm, memo.refcounts))) unchanged.add(t.event);
  }
  if (unchanged.size > 0) memo.events = memo.events.filter((e) => !unchanged.has(e));
}

/** Which change of a batch refused, and why: the rest of the batch is tried again without it. */
class ChangeRefused extends Error {
  readonly index: number;
  readonly refusal: RegistryError;
  constructor(index: number, refusal: RegistryError) {
    super(refusal.message);
    this.index = index;
    this.refusal = refusal;
  }
}

/** Commits the changes (all to `name`) in one transaction; a change that throws aborts it, naming itself. */
async function commitTogether(pool: DatabasePool, name: RepoName, changes: readonly ManifestChange[]): Promise<void> {
  await pool.transaction(async (tx) => {
    const repositoryId = await lockRepositoryByName(tx, name);
    const memo: TxMemo = { repositoryId, manifestIds: new Map(), refcounts: new Map(), events: [], deferred: [] };
    for (const [index, change] of changes.entries()) {
      try {
        await applyChange(tx, memo, change);
      } catch (err) {
        throw err instanceof RegistryError ? new ChangeRefused(index, err) : err;
      }
    }
    await setDeferredTags(tx, memo);
    await addToRefcounts(tx, memo.refcounts);
    await appendEvents(tx, memo.events);
    // the replicas' manifest caches; PostgreSQL would send one per transaction and payload anyway
    if (memo.events.some((e) => e.kind === 'tag.set')) await notifyManifestChange(tx, name);
  });
}

/**
 * Commits a batch so that each change gets the answer it would get committed alone, in
 * arrival order: a change refused by a check (a RegistryError: an immutable tag, a blob
 * unknown…) is answered with its refusal and the others commit without it. Any other
 * failure falls back to one transaction each, so one change's fault fails only itself.
 */
export async function commitChanges(pool: DatabasePool, name: RepoName, changes: readonly ManifestChange[]): Promise<Settled<void>[]> {
  const results: Settled<void>[] = changes.map(() => ({ ok: true, value: undefined }));
  let pending = changes.map((_, i) => i);
  while (pending.length > 0) {
    try {
      await commitTogether(pool, name, pending.map((i) => changes[i] as ManifestChange));
      return results;
    } catch (err) {
      if (!(err instanceof ChangeRefused)) break;
      const failed = pending[err.index] as number;
      results[failed] = { ok: false, error: err.refusal };
      pending = pending.filter((i) => i !== failed);
    }
  }
  for (const i of pending) {
    try {
      await commitTogether(pool, name, [changes[i] as ManifestChange]);
    } catch (err) {
      results[i] = { ok: false, error: err instanceof ChangeRefused ? err.refusal : err };
    }
  }
  return results;
}

/** The process's queue of manifest commits, one batch in flight per repository. */
export type ManifestCommits = KeyedBatcher<ManifestChange, void>;

export function manifestCommits(pool: DatabasePool): ManifestCommits {
  return new KeyedBatcher((name, changes) => commitChanges(pool, name as RepoName, changes));
}
