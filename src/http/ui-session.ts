// The web UI's session. People sign in with the password they give `docker login`:
// the UI POSTs it here, it is checked like the token endpoint checks it
// (auth/service.ts authenticate, with its rate limit), robots are refused, and the
// answer sets an HttpOnly, SameSite=Strict cookie holding a short-lived session
// token signed with the registry's keys (Secure when the request came over TLS).
// No token ever travels in a URL or reaches the page's scripts.
//
// CSRF: every state-changing UI request must carry X-Bollard-CSRF equal to the
// bollard_csrf cookie (which another site can neither read nor set) and, when the
// browser sends one, an Origin equal to our own.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import type { Grant } from '../auth/authorize.ts';
import { ANONYMOUS, claimOfSubject, pullableRegexes, rulesFor, type Subject } from '../auth/permissions.ts';
import { authenticate, type Auth } from '../auth/service.ts';
import { isSuperuser } from '../auth/superuser.ts';
import { issueSession, subjectOfSession } from '../auth/session.ts';
import { RegistryError } from '../errors/codes.ts';
import { clientOf, loginCredentials } from './credentials.ts';
import { noteSubject } from './request-user.ts';
import type { ServiceHandler, Services } from './route.ts';

export const SESSION_COOKIE = 'bollard_session';
export const CSRF_COOKIE = 'bollard_csrf';
export const CSRF_HEADER = 'x-bollard-csrf';
/** A session lasts this long; then the user signs in again (a stolen cookie is worth an hour at most). */
export const SESSION_SECONDS = 3600;

const parseJson = express.json({ limit: '8kb', strict: true, type: () => true });

export function cookiesOf(req: Request): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

function cookie(req: Request, name: string, value: string, opts: { httpOnly: boolean; maxAge: number }): string {
  const parts = [`${name}=${value}`, 'Path=/ui', 'SameSite=Strict', `Max-Age=${opts.maxAge}`];
  if (opts.httpOnly) parts.push('HttpOnly');
  if (req.secure) parts.push('Secure');
  return parts.join('; ');
}

/** The subject of the request's session cookie; anonymous without a valid one. */
async function sessionSubject(auth: Auth, req: Request): Promise<Subject> {
  const token = cookiesOf(req).get(SESSION_COOKIE);
  if (!token) return ANONYMOUS;
  // a user removed since signing in is nobody
  return (await subjectOfSession(auth, token)) ?? ANONYMOUS;
}

/**
 * The grant of a UI request (access 'session' in the route table): the session's
 * subject and the repositories its rules let it pull, as the catalog computes them.
 */
export async function sessionGrant(auth: Auth, req: Request, res: Response): Promise<Grant> {
  const subject = await sessionSubject(auth, req);
  noteSubject(res, subject);
  return { subject, pullable: pullableRegexes(await rulesFor(auth.pool, subject)), mountFrom: false };
}

/** Refuses a state-changing request that does not prove it comes from our own pages. */
export function checkCsrf(req: Request): void {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `${req.protocol}://${req.get('host') ?? ''}`) {
    throw new RegistryError('DENIED', 'the request comes from another origin');
  }
  const expected = cookiesOf(req).get(CSRF_COOKIE) ?? '';
  const given = req.get(CSRF_HEADER) ?? '';
  const ok = expected.length >= 16 && expected.length === given.length && timingSafeEqual(Buffer.from(expected), Buffer.from(given));
  if (!ok) throw new RegistryError('DENIED', `state-changing UI requests need the ${CSRF_HEADER} header matching the ${CSRF_COOKIE} cookie`);
}

/** GET /ui/api/session: who is signed in, the auth mode, the registry's address; sets the CSRF cookie when missing. */
export const info: ServiceHandler = async (s, req, res, grant) => {
  if (!cookiesOf(req).has(CSRF_COOKIE)) {
    res.append('Set-Cookie', cookie(req, CSRF_COOKIE, randomBytes(18).toString('base64url'), { httpOnly: false, maxAge: 7 * 86_400 }));
  }
  const user = grant.subject && grant.subject.kind !== 'anonymous' ? claimOfSubject(grant.subject) : null;
  const admin = s.auth === null || (grant.subject !== null && grant.subject.kind !== 'anonymous' && (await isSuperuser(s.auth.pool, grant.subject)));
  res.setHeader('Cache-Control', 'no-store');
  res.status(200).json({ auth: s.auth === null ? 'none' : 'token', user, admin, registry: req.get('host') ?? 'localhost', deleteEnabled: s.ctx.options.deleteEnabled });
};

/** POST /ui/api/session {username, password}: signs a user in (robots have no UI). */
export const login: ServiceHandler = async (s, req, res) => {
  const auth = authOf(s);
  checkCsrf(req);
  const body = await readJson(req, res);
  const username = typeof body.username === 'string' ? body.username : '';
  const password = typeof body.password === 'string' ? body.password : '';
  if (username === '' || password === '') throw new RegistryError('UNAUTHORIZED', 'enter a user name and a password');
  if (username.startsWith('robot$')) throw new RegistryError('DENIED', 'robot accounts cannot sign in to the web UI');
  const creds = loginCredentials(username, password);
  const subject = creds && (await authenticate(auth, creds.username, creds.password, clientOf(req)));
  if (!subject || subject.kind !== 'user') throw new RegistryError('UNAUTHORIZED', 'invalid user name or password');
  noteSubject(res, subject);
  const session = await issueSession(auth, subject, SESSION_SECONDS);
  res.append('Set-Cookie', cookie(req, SESSION_COOKIE, session, { httpOnly: true, maxAge: SESSION_SECONDS }));
  res.setHeader('Cache-Control', 'no-store');
  res.status(200).json({ user: subject.name });
};

/** DELETE /ui/api/session: signs out (the cookie is cleared; the token expires within the hour anyway). */
export const logout: ServiceHandler = async (_s, req, res) => {
  checkCsrf(req);
  res.append('Set-Cookie', cookie(req, SESSION_COOKIE, '', { httpOnly: true, maxAge: 0 }));
  res.status(200).json({ user: null });
};

function authOf(s: Services): Auth {
  if (s.auth === null) throw new RegistryError('UNSUPPORTED', 'token auth is off: there is nothing to sign in to');
  return s.auth;
}

function readJson(req: Request, res: Response): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    parseJson(req, res, (err?: unknown) => {
      if (err) return reject(err);
      const body: unknown = req.body;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) reject(new RegistryError('UNAUTHORIZED', 'the body must be a JSON object {"username","password"}'));
      else resolve(body as Record<string, unknown>);
    });
  });
}
