// A superuser may do everything: its grants (its own or the anonymous ones)
// give every action on `**`. The admin API is reserved to superusers.
import type { CommonQueryMethods } from 'slonik';
import { grantsOf } from '../db/grants.ts';
import { subjectKey, type Subject } from './permissions.ts';
import { ACTIONS } from './scope.ts';

export async function isSuperuser(db: CommonQueryMethods, subject: Subject): Promise<boolean> {
  const keys = subject.kind === 'user' || subject.kind === 'robot' ? ['anonymous', subjectKey(subject)] : ['anonymous'];
  const actions = new Set<string>();
  // a user's groups count too, as everywhere else
  for (const g of await grantsOf(db, keys, subject.kind === 'user' ? subject.name : null)) if (g.repository_glob === '**') for (const a of g.actions) actions.add(a);
  return ACTIONS.every((a) => actions.has(a));
}
