// Who a request was let in as, for its access line. Set by the dispatcher (the
// grant's subject) and by the token endpoint (the subject it issues to); a module
// of its own so that neither imports the access log, which imports the route table.
import type { Response } from 'express';

const users = new WeakMap<Response, string>();

/** Records who the request acts for (the anonymous subject and no subject name no user). */
export function noteSubject(res: Response, subject: { kind: string; name?: string } | null): void {
  if (subject?.name !== undefined) users.set(res, subject.kind === 'user' ? subject.name : `${subject.kind}:${subject.name}`);
}

export function userOf(res: Response): string | undefined {
  return users.get(res);
}
