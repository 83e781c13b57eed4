// Permission rules: what a subject may do is the union of its own grants and the
// anonymous ones. Tokens carry the intersection of what was asked and what the
// rules allow; asking for more than allowed is not an error, it just yields less.
import type { CommonQueryMethods } from 'slonik';
import { grantsOf, type GrantRow } from '../db/grants.ts';
import { MAX_NAME_LENGTH } from '../shared/names.ts';
import { globToRegex } from '../shared/glob.ts';
import { mergeAccess, type Access, type Action } from './scope.ts';

/**
 * Who asks: a user, a robot account, a subject of an external issuer's token
 * (whose access the token itself carries), or nobody in particular.
 */
export type Subject =
  | { kind: 'user'; name: string }
  | { kind: 'robot'; name: string }
  | { kind: 'external'; name: string }
  | { kind: 'anonymous' };

export const ANONYMOUS: Subject = { kind: 'anonymous' };

/**
 * Robots log in as "robot$<name>": docker, podman and skopeo pass the name through
 * Basic auth unchanged, and user names cannot hold '$', so the two never collide.
 */
export const ROBOT_PREFIX = 'robot$';

/** The `subject` column of grants. */
export function subjectKey(s: Subject): string {
  if (s.kind === 'user' || s.kind === 'robot') return `${s.kind}:${s.name}`;
  return 'anonymous';
}

/** The subject of one of our tokens' `sub` claim ('' for anonymous). */
export function subjectOfClaim(sub: string): Subject {
  if (sub === '') return ANONYMOUS;
  if (sub.startsWith(ROBOT_PREFIX)) return { kind: 'robot', name: sub.slice(ROBOT_PREFIX.length) };
  return { kind: 'user', name: sub };
}

export function claimOfSubject(s: Subject): string {
  if (s.kind === 'robot') return `${ROBOT_PREFIX}${s.name}`;
  return s.kind === 'anonymous' ? '' : s.name;
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
  // an external issuer's subjects get only the anonymous rules here: their token says the rest
  const own = subject.kind === 'user' || subject.kind === 'robot' ? [subjectKey(subject)] : [];
  return toRules(await grantsOf(db, ['anonymous', ...own], subject.kind === 'user' ? subject.name : null));
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
