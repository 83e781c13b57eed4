// One retention pass over every repository a policy governs. Only tag and
// manifest rows are deleted, with exact refcounts and an event each (actor
// "retention"); the blobs that become unreferenced are left to GC.
import type { CommonQueryMethods, DatabasePool } from 'slonik';
import { appendEvent } from '../../db/events.ts';
import { deleteManifestRow } from '../../db/manifests.ts';
import { notifyManifestChange } from '../../db/notify.ts';
import { listImmutableRules, listPolicies } from '../../db/retention.ts';
import { lockRepositoryForWrite } from '../../db/repositories.ts';
import { deleteTagRows, listRepositoriesMatching, lockManifestsAndLinks, lockTags, tryLockRetentionPass, unlockRetentionPass, unpulledManifests, untaggedManifests } from '../../db/retention-pass.ts';
import { globPrefix, globToRegex } from '../../shared/glob.ts';
import { immutableMatcher } from './rules.ts';
import { itemsOf, manifestReason, planRepository, tagReason, type ManifestRule, type RepositoryPlan, type RetentionItem } from './plan.ts';
import { policyFor } from './rules.ts';

/** Rows changed per transaction: bounds lock time on large repositories. */
const BATCH = 500;
const ACTOR = 'retention';

export interface RetentionReport {
  dryRun: boolean;
  items: RetentionItem[];
}

/** Plans every governed repository; a dry run stops there. Null when another process is running a pass. */
export async function runRetention(pool: DatabasePool, opts: { dryRun: boolean }): Promise<RetentionReport | null> {
  if (opts.dryRun) return { dryRun: true, items: (await planAll(pool)).flatMap(itemsOf) };
  return pool.connect(async (conn) => {
    if (!(await tryLockRetentionPass(conn))) return null;
    try {
      const items: RetentionItem[] = [];
      for (const plan of await planAll(conn)) items.push(...(await applyPlan(conn, plan)));
      return { dryRun: false, items };
    } finally {
      await unlockRetentionPass(conn);
    }
  });
}

async function planAll(db: CommonQueryMethods): Promise<RepositoryPlan[]> {
  const policies = await listPolicies(db);
  if (policies.length === 0) return [];
  const rules = await listImmutableRules(db);
  const plans: RepositoryPlan[] = [];
  const globs = policies.map((p) => ({ prefix: globPrefix(p.repositoryGlob), regex: globToRegex(p.repositoryGlob) }));
  for (const repo of await listRepositoriesMatching(db, globs)) {
    const policy = policyFor(policies, repo.name);
    if (policy) plans.push(await planRepository(db, repo, policy, rules));
  }
  return plans;
}

type Connection = Parameters<Parameters<DatabasePool['connect']>[0]>[0];

async function applyPlan(conn: Connection, plan: RepositoryPlan): Promise<RetentionItem[]> {
  const done: RetentionItem[] = [];
  for (let i = 0; i < plan.tags.length; i += BATCH) {
    done.push(...(await conn.transaction((tx) => deleteTagBatch(tx, plan, plan.tags.slice(i, i + BATCH)))));
  }
  for (const rule of ['untagged', 'unpulled'] as const) {
    const manifests = plan.manifests.filter((m) => m.rule === rule);
    for (let i = 0; i < manifests.length; i += BATCH) {
      done.push(...(await conn.transaction((tx) => deleteManifestBatch(tx, plan, rule, manifests.slice(i, i + BATCH)))));
    }
  }
  return done;
}

/** Deletes the planned tags still naming the same manifest since the plan, still not immutable, and (by that rule) still unpulled. */
async function deleteTagBatch(tx: CommonQueryMethods, plan: RepositoryPlan, tags: RepositoryPlan['tags']): Promise<RetentionItem[]> {
  await lockRepositoryForWrite(tx, plan.repositoryId); // first, as every change to tags and manifests
  const locked = new Map((await lockTags(tx, plan.repositoryId, tags.map((t) => t.name))).map((r) => [r.name, r]));
  const immutable = immutableMatcher(await listImmutableRules(tx), plan.repository);
  const gone = tags.filter((t) => {
    const now = locked.get(t.name);
    const unpulled = plan.policy.unpulledDelaySeconds === null || (now?.idle ?? 0) >= plan.policy.unpulledDelaySeconds;
    return now && now.manifest_id === t.manifestId && now.stamp === t.stamp && unpulled && !immutable?.(t.name);
  });
  if (gone.length === 0) return [];
  await lockManifestsAndLinks(tx, plan.repositoryId, [...new Set(gone.map((t) => t.manifestId))].sort((a, b) => a - b), []);
  await deleteTagRows(tx, plan.repositoryId, gone.map((t) => t.name));
  const reason = tagReason(plan.policy);
  for (const t of gone) await appendEvent(tx, { kind: 'tag.delete', repository: plan.repository, tag: t.name, digest: t.digest, actor: ACTOR });
  await notifyManifestChange(tx, plan.repository);
  return gone.map((t) => ({ repository: plan.repository, kind: 'tag', tag: t.name, digest: t.digest, reason }));
}

/** Deletes the planned manifests that, with their rows locked, still qualify by their rule. */
async function deleteManifestBatch(tx: CommonQueryMethods, plan: RepositoryPlan, rule: ManifestRule, manifests: RepositoryPlan['manifests']): Promise<RetentionItem[]> {
  const ids = manifests.map((m) => m.id);
  await lockRepositoryForWrite(tx, plan.repositoryId);
  await lockManifestsAndLinks(tx, plan.repositoryId, ids, ids);
  const { untaggedDelaySeconds: untagged, unpulledDelaySeconds: unpulled } = plan.policy;
  const still = rule === 'untagged'
    ? await untaggedManifests(tx, plan.repositoryId, untagged ?? 0, ids)
    : await unpulledManifests(tx, plan.repositoryId, unpulled ?? 0, [], ids);
  if (still.length === 0) return [];
  for (const m of still) {
    await deleteManifestRow(tx, plan.repositoryId, m.id);
    await appendEvent(tx, { kind: 'manifest.delete', repository: plan.repository, digest: m.digest, actor: ACTOR });
  }
  await notifyManifestChange(tx, plan.repository);
  const reason = manifestReason(plan.policy, rule);
  return still.map((m) => ({ repository: plan.repository, kind: 'manifest', digest: m.digest, reason }));
}
