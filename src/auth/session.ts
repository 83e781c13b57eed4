// The web UI's sessions (http/ui-session.ts keeps them in a cookie): a token of
// its own type naming a user, signed with the registry's keys. It carries no
// access: every request's rights are read from the rules afresh, so a revoked
// grant or a removed user takes effect at once.
import { findUser } from '../db/users.ts';
import { claimOfSubject, subjectOfClaim, type Subject } from './permissions.ts';
import type { Auth } from './service.ts';
import { issueSessionToken, verifySessionToken } from './tokens.ts';

export async function issueSession(auth: Auth, subject: Subject & { kind: 'user' }, seconds: number): Promise<string> {
  return (await issueSessionToken(auth.tokens, claimOfSubject(subject), seconds)).token;
}

/** The user a session token names while it is valid and the user exists; else null. */
export async function subjectOfSession(auth: Auth, token: string): Promise<Subject | null> {
  const sub = await verifySessionToken(auth.tokens, token);
  if (sub === null || sub === '') return null;
  const subject = subjectOfClaim(sub);
  return subject.kind === 'user' && (await findUser(auth.pool, subject.name)) !== null ? subject : null;
}
