// What retention would delete in one repository, computed from committed rows
// only. The dry run prints this plan; the real run applies it, rechecking each
// item with its rows locked, so both list the same items when nothing changed
// in between.
import type { CommonQueryMethods } from 'slonik';
import { tagsBeyond, untaggedManifests } from '../../db/retention-pass.ts';
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
  manifests: Array<{ id: number; digest: string }>;
}

export async function planRepository(
  db: CommonQueryMethods,
  repo: { id: number; name: string },
  policy: RetentionPolicy,
  rules: readonly ImmutableRule[],
): Promise<RepositoryPlan> {
  const plan: RepositoryPlan = { repository: repo.name, repositoryId: repo.id, policy, tags: [], manifests: [] };
  if (policy.keepLast !== null) {
    const keep = policy.keepRegex === null ? null : wholeTag(policy.keepRegex);
    const immutable = immutableMatcher(rules, repo.name);
    for (const t of await tagsBeyond(db, repo.id, policy.keepLast)) {
      if (keep?.test(t.name) || immutable?.(t.name)) continue;
      plan.tags.push({ name: t.name, manifestId: t.manifest_id, digest: t.digest, stamp: t.stamp });
    }
  }
  if (policy.untaggedDelaySeconds !== null) {
    plan.manifests = [...(await untaggedManifests(db, repo.id, policy.untaggedDelaySeconds))];
  }
  return plan;
}

export function tagReason(policy: RetentionPolicy): string {
  const kept = policy.keepRegex === null ? '' : ` and not matching /${policy.keepRegex}/`;
  return `policy "${policy.repositoryGlob}": older than the ${policy.keepLast} most recently pushed tags${kept}`;
}

export function manifestReason(policy: RetentionPolicy): string {
  return `policy "${policy.repositoryGlob}": untagged and unreferenced for at least ${policy.untaggedDelaySeconds}s`;
}

export function itemsOf(plan: RepositoryPlan): RetentionItem[] {
  return [
    ...plan.tags.map((t) => ({ repository: plan.repository, kind: 'tag' as const, tag: t.name, digest: t.digest, reason: tagReason(plan.policy) })),
    ...plan.manifests.map((m) => ({ repository: plan.repository, kind: 'manifest' as const, digest: m.digest, reason: manifestReason(plan.policy) })),
  ];
}
