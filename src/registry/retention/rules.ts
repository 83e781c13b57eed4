// Retention policies and immutable-tag rules: validation of what an operator
// types, and which rules apply to a repository and a tag.
import { globMatches, isValidGlob } from '../../shared/glob.ts';
import type { ImmutableRule, RetentionPolicy } from '../../shared/policies.ts';

export class RuleError extends Error {
  override name = 'RuleError';
}

export function checkGlob(glob: string): string {
  if (!isValidGlob(glob)) {
    throw new RuleError(`invalid repository glob "${glob}": use a-z 0-9 . _ - / and the wildcards * ** ?`);
  }
  return glob;
}

/** A tag regex must compile and is matched against the whole tag. */
export function checkTagRegex(pattern: string): string {
  if (pattern.length < 1 || pattern.length > 1000) throw new RuleError('a tag regex needs 1 to 1000 characters');
  try {
    wholeTag(pattern);
  } catch (err) {
    throw new RuleError(`invalid tag regex "${pattern}": ${(err as Error).message}`);
  }
  return pattern;
}

export function wholeTag(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

/**
 * How specific a glob is: more literal characters first, then fewer wildcards,
 * then a glob without `**` before one with it. Equal globs cannot coexist (the
 * glob is unique), and a final byte-order comparison keeps the choice total.
 */
function compareSpecificity(a: string, b: string): number {
  const literals = (g: string) => g.replace(/[*?]/g, '').length;
  const wildcards = (g: string) => (g.match(/\*\*|\*|\?/g) ?? []).length;
  const deep = (g: string) => (g.includes('**') ? 1 : 0);
  return literals(b) - literals(a) || wildcards(a) - wildcards(b) || deep(a) - deep(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** The one policy that governs the repository: the most specific matching glob. */
export function policyFor(policies: readonly RetentionPolicy[], repository: string): RetentionPolicy | null {
  const matching = policies.filter((p) => globMatches(p.repositoryGlob, repository));
  matching.sort((a, b) => compareSpecificity(a.repositoryGlob, b.repositoryGlob));
  return matching[0] ?? null;
}

export type TagMatcher = (tag: string) => ImmutableRule | null;

/** The immutable rules of the repository (every one protects the tags it matches); null when none applies. */
export function immutableMatcher(rules: readonly ImmutableRule[], repository: string): TagMatcher | null {
  const compiled = rules
    .filter((r) => globMatches(r.repositoryGlob, repository))
    .map((r) => ({ rule: r, re: wholeTag(r.tagPattern) }));
  if (compiled.length === 0) return null;
  return (tag) => compiled.find((c) => c.re.test(tag))?.rule ?? null;
}

export function describeRule(rule: ImmutableRule): string {
  return `immutable rule #${rule.id} (repositories "${rule.repositoryGlob}", tags /${rule.tagPattern}/)`;
}
