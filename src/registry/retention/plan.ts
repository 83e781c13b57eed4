// What retention would delete in one repository, computed from committed rows
// only. The dry run prints this plan; the real run applies it, rechecking each
// item with its rows locked, so both list the same items when nothing changed
// in between.
import type { CommonQueryMethods } from 'slonik';
import { tagCandidates, unpulledManifests, untaggedManifests } from '../../db/retention-pass.ts';
import type { ImmutableRule, RetentionPolicy } from '../../shared/policies.ts';
import { immutableMatcher, wholeTag } from './rules.ts';

export interface RetentionItem {
  repository: string;
  kind: 'tag' | 'manifest';
  /** for kind 'tag' */
  tag?: string;
  /** the tag's manifest, or the manifest deleted */
  digest: string;
  reason: string;
}

export interface PlannedTag {
  name: string;
  manifestId: number;
  digest: string;
  /** updated_at as PostgreSQL prints it: a tag moved since the plan is left alone */
  stamp: string;
}

export interface RepositoryPlan {
  repository: string;
  repositoryId: number;
  policy: RetentionPolicy;
  tags: PlannedTag[];
  /** `untagged`: by untaggedDelaySeconds; `unpulled`: by unpulledDelaySeconds (a manifest both would delete is listed once, as untagged) */
  manifests: Array<{ id: number; digest: string; rule: ManifestRule }>;
}

export type ManifestRule = 'untagged' | 'unpulled';

export async function planRepository(
  db: CommonQueryMethods,
  repo: { id: number; name: string },
  policy: RetentionPolicy,
  rules: readonly ImmutableRule[],
): Promise<RepositoryPlan> {
  const plan: RepositoryPlan = { repository: repo.name, repositoryId: repo.id, policy, tags: [], manifests: [] };
  if (policy.keepLast !== null || policy.unpulledDelaySeconds !== null) {
    // a tag goes when no rule keeps it: not among the last N, not pulled lately, not matching, not immutable
    const keep = policy.keepRegex === null ? null : wholeTag(policy.keepRegex);
    const immutable = immutableMatcher(rules, repo.name);
    for (const t of await tagCandidates(db, repo.id, { keepLast: policy.keepLast, unpulledSeconds: policy.unpulledDelaySeconds })) {
      if (keep?.test(t.name) || immutable?.(t.name)) continue;
      plan.tags.push({ name: t.name, manifestId: t.manifest_id, digest: t.digest, stamp: t.stamp });
    }
  }
  if (policy.untaggedDelaySeconds !== null) {
    for (const m of await untaggedManifests(db, repo.id, policy.untaggedDelaySeconds)) plan.manifests.push({ ...m, rule: 'untagged' });
  }
  if (policy.unpulledDelaySeconds !== null) {
    const listed = new Set(plan.manifests.map((m) => m.id));
    const going = plan.tags.map((t) => t.name);
    for (const m of await unpulledManifests(db, repo.id, policy.unpulledDelaySeconds, going)) {
      if (!listed.has(m.id)) plan.manifests.push({ ...m, rule: 'unpulled' });
    }
  }
  return plan;
}

export function tagReason(policy: RetentionPolicy): string {
  const why = [
    policy.keepLast === null ? null : `older than the ${policy.keepLast} most recently pushed tags`,
    policy.unpulledDelaySeconds === null ? null : `neither pushed nor pulled for at least ${policy.unpulledDelaySeconds}s`,
    policy.keepRegex === null ? null : `not matching /${policy.keepRegex}/`,
  ];
  return `policy "${policy.repositoryGlob}": ${why.filter((w) => w !== null).join(' and ')}`;
}

export function manifestReason(policy: RetentionPolicy, rule: ManifestRule): string {
  if (rule === 'unpulled') return `policy "${policy.repositoryGlob}": untagged, and neither pushed nor pulled for at least ${policy.unpulledDelaySeconds}s`;
  return `policy "${policy.repositoryGlob}": untagged and unreferenced for at least ${policy.untaggedDelaySeconds}s`;
}

export function itemsOf(plan: RepositoryPlan): RetentionItem[] {
  return [
    ...plan.tags.map((t) => ({ repository: plan.repository, kind: 'tag' as const, tag: t.name, digest: t.digest, reason: tagReason(plan.policy) })),
    ...plan.manifests.map((m) => ({ repository: plan.repository, kind: 'manifest' as const, digest: m.digest, reason: manifestReason(plan.policy, m.rule) })),
  ];
}
