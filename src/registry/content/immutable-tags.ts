// Immutable tags: checked inside the committing transaction, with the tag rows
// locked first, so no push or delete can slip between the check and the change.
import type { CommonQueryMethods } from 'slonik';
import { listImmutableRules } from '../../db/retention.ts';
import { lockTag, lockTagCreation, lockTagsOf } from '../../db/tags.ts';
import { RegistryError } from '../../errors/codes.ts';
import { describeRule, immutableMatcher, type TagMatcher } from '../retention/rules.ts';

export type { TagMatcher };

/** The immutable rules that apply to the repository; null when none does. */
export async function immutableRulesOf(tx: CommonQueryMethods, repository: string): Promise<TagMatcher | null> {
  return immutableMatcher(await listImmutableRules(tx), repository);
}

/**
 * Refuses to point an existing immutable tag at another manifest; a new tag or the same digest is fine.
 * `matches`: the repository's rules as read in this transaction (immutableRulesOf).
 */
export async function guardTagMove(tx: CommonQueryMethods, repository: string, repositoryId: number, tag: string, manifestId: number, matches: TagMatcher | null): Promise<void> {
  const rule = matches?.(tag);
  if (!rule) return;
  // Two pushes creating the same new immutable tag find no row to lock: they
  // queue here instead, so the second sees the first's tag and is refused.
  await lockTagCreation(tx, repositoryId, tag);
  const current = await lockTag(tx, repositoryId, tag);
  if (current !== null && current !== manifestId) {
    throw new RegistryError('DENIED', `tag "${tag}" of ${repository} is protected by ${describeRule(rule)}: it cannot be moved to another manifest`);
  }
}

/** Refuses to delete an immutable tag. */
export async function guardTagDelete(tx: CommonQueryMethods, repository: string, repositoryId: number, tag: string): Promise<void> {
  const rule = (await immutableRulesOf(tx, repository))?.(tag);
  if (!rule) return;
  const exists = await lockTag(tx, repositoryId, tag);
  if (exists !== null) {
    throw new RegistryError('DENIED', `tag "${tag}" of ${repository} is protected by ${describeRule(rule)}: it cannot be deleted`);
  }
}

/** Refuses to delete a manifest (and with it its tags) while it carries an immutable tag. */
export async function guardManifestDelete(tx: CommonQueryMethods, repository: string, manifestId: number, digest: string): Promise<void> {
  const matches = await immutableRulesOf(tx, repository);
  if (!matches) return;
  const tags = await lockTagsOf(tx, manifestId);
  for (const tag of tags) {
    const rule = matches(tag);
    if (rule) {
      throw new RegistryError('DENIED', `manifest ${digest} carries tag "${tag}", protected by ${describeRule(rule)}: it cannot be deleted`);
    }
  }
}
