// Permission rules: what a subject may do is the union of its own grants and the
// anonymous ones. Tokens carry the intersection of what was asked and what the
// rules allow; asking for more than allowed is not an error, it just yields less.
import type { CommonQueryMethods } from 'slonik';
import { grantsOf, type GrantRow } from '../db/grants.ts';
import { MAX_NAME_LENGTH } from '../registry/names.ts';
import { globToRegex } from './glob.ts';
import { mergeAccess, type Access, type Action } from './scope.ts';

/** Who asks: a user by name, or nobody in particular. */
export type Subject = { kind: 'user'; name: string } | { kind: 'anonymous' };

export const ANONYMOUS: Subject = { kind: 'anonymous' };

/** The `subject` column of grants, and the `sub` claim of tokens ('' for anonymous). */
export function subjectKey(s: Subject): string {
  return s.kind === 'user' ? `user:${s.name}` : 'anonymous';
}

export function subjectOfClaim(sub: string): Subject {
  return sub === '' ? ANONYMOUS : { kind: 'user', name: sub };
}

export function claimOfSubject(s: Subject): string {
  return s.kind === 'user' ? s.name : '';
}

export interface Rule {
  pattern: RegExp;
  /** The same pattern as text, for PostgreSQL. */
  regex: string;
  actions: readonly Action[];
}

export function toRules(rows: readonly GrantRow[]): Rule[] {
  return rows.map((r) => {
    const regex = globToRegex(r.repository_glob);
    return { pattern: new RegExp(regex), regex, actions: r.actions };
  });
}

export async function rulesFor(db: CommonQueryMethods, subject: Subject): Promise<Rule[]> {
  const subjects = subject.kind === 'anonymous' ? ['anonymous'] : ['anonymous', subjectKey(subject)];
  return toRules(await grantsOf(db, subjects));
}

export function allowedActions(rules: readonly Rule[], repository: string): Set<Action> {
  const out = new Set<Action>();
  if (repository.length > MAX_NAME_LENGTH) return out;
  for (const r of rules) if (r.pattern.test(repository)) for (const a of r.actions) out.add(a);
  return out;
}

/**
 * The part of `requested` the rules allow. The catalog scope is given to everyone:
 * what it lists is filtered to the repositories the caller may pull.
 */
export function grantAccess(rules: readonly Rule[], requested: readonly Access[]): Access[] {
  const out: Access[] = [];
  for (const req of requested) {
    if (req.type === 'registry' && req.name === 'catalog') {
      if (req.actions.includes('*')) out.push({ type: 'registry', name: 'catalog', actions: ['*'] });
    } else if (req.type === 'repository') {
      const allowed = allowedActions(rules, req.name);
      const actions = req.actions.filter((a) => allowed.has(a as Action));
      if (actions.length > 0) out.push({ type: 'repository', name: req.name, actions });
    }
  }
  return mergeAccess(out);
}

/** PostgreSQL regexes of the repositories the rules let one pull. */
export function pullableRegexes(rules: readonly Rule[]): string[] {
  return rules.filter((r) => r.actions.includes('pull')).map((r) => r.regex);
}
