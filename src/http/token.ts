// The token endpoint of the Docker token spec: GET with Basic credentials (or none,
// for an anonymous token) and repeated `scope`; POST with the OAuth2 password and
// refresh_token grants. What is granted is what was asked intersected with what is
// allowed.
import express, { Router, type Request, type Response } from 'express';
import { ANONYMOUS, authenticate, issueToken, subjectOfRefreshToken, type Auth } from '../auth/service.ts';
import type { Subject } from '../auth/permissions.ts';
import { parseScopes } from '../auth/scope.ts';
import { RegistryError } from '../errors/codes.ts';
import { basicCredentials, loginCredentials } from './credentials.ts';

export function tokenRouter(auth: Auth): Router {
  const router = Router();
  router.get('/token', async (req, res) => {
    const subject = await basicSubject(auth, req);
    const offline = queryValues(req, 'offline_token')[0] === 'true';
    send(res, await issueToken(auth, subject, parseScopes(queryValues(req, 'scope')), offline));
  });
  router.post('/token', express.urlencoded({ extended: false, limit: '16kb' }), async (req, res) => {
    const form = (req.body ?? {}) as Record<string, unknown>;
    const field = (k: string) => (typeof form[k] === 'string' ? form[k] : '');
    const scopes = parseScopes([field('scope')]);
    if (field('grant_type') === 'password') {
      const login = loginCredentials(field('username'), field('password'));
      const subject = login && (await authenticate(auth, login.username, login.password, clientOf(req)));
      if (subject === null) throw badCredentials();
      send(res, await issueToken(auth, subject, scopes, field('access_type') === 'offline'));
    } else if (field('grant_type') === 'refresh_token') {
      const subject = await subjectOfRefreshToken(auth, field('refresh_token'), clientOf(req));
      if (subject === null) throw new RegistryError('UNAUTHORIZED', 'invalid or expired refresh token');
      send(res, await issueToken(auth, subject, scopes, false));
    } else {
      res.status(400).json({ error: 'unsupported_grant_type', error_description: 'grant_type must be password or refresh_token' });
    }
  });
  return router;
}

async function basicSubject(auth: Auth, req: Request): Promise<Subject> {
  const header = req.headers.authorization;
  if (header === undefined) return ANONYMOUS;
  const login = basicCredentials(header);
  if (login === null) throw badCredentials();
  const subject = await authenticate(auth, login.username, login.password, clientOf(req));
  if (subject === null) throw badCredentials();
  return subject;
}

/** The client address failed logins are counted against (express's req.ip: the socket, or per `trust proxy`). */
/** The address failed logins are counted against. */
export function clientOf(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

function badCredentials(): RegistryError {
  return new RegistryError('UNAUTHORIZED', 'invalid username or password', { 'WWW-Authenticate': 'Basic realm="bollard"' });
}

function queryValues(req: Request, key: string): string[] {
  const v = req.query[key];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

function send(res: Response, body: object): void {
  res.setHeader('Cache-Control', 'no-store');
  res.status(200).json(body);
}
