// The token endpoint of the Docker token spec: GET with Basic credentials (or none,
// for an anonymous token) and repeated `scope`; POST with the OAuth2 password and
// refresh_token grants. What is granted is what was asked intersected with what is
// allowed. Served only with token auth on (http/routes.ts).
import express, { type Request, type Response } from 'express';
import { ANONYMOUS, authenticate, issueToken, subjectOfRefreshToken, type Auth } from '../auth/service.ts';
import type { Subject } from '../auth/permissions.ts';
import { parseScopes } from '../auth/scope.ts';
import { RegistryError } from '../errors/codes.ts';
import { noteSubject } from './request-user.ts';
import { clientOf, loginCredentials, parseAuthorization } from './credentials.ts';
import type { ServiceHandler, Services } from './route.ts';

const parseForm = express.urlencoded({ extended: false, limit: '16kb' });

export const get: ServiceHandler = async (s, req, res) => {
  const auth = authOf(s);
  const subject = await basicSubject(auth, req);
  const offline = queryValues(req, 'offline_token')[0] === 'true';
  noteSubject(res, subject);
  send(res, await issueToken(auth, subject, parseScopes(queryValues(req, 'scope')), offline));
};

export const post: ServiceHandler = async (s, req, res) => {
  const auth = authOf(s);
  const form = await readForm(req, res);
  const field = (k: string) => (typeof form[k] === 'string' ? form[k] : '');
  const scopes = parseScopes([field('scope')]);
  if (field('grant_type') === 'password') {
    const login = loginCredentials(field('username'), field('password'));
    const subject = login && (await authenticate(auth, login.username, login.password, clientOf(req)));
    if (subject === null) throw badCredentials();
    noteSubject(res, subject);
    send(res, await issueToken(auth, subject, scopes, field('access_type') === 'offline'));
  } else if (field('grant_type') === 'refresh_token') {
    const subject = await subjectOfRefreshToken(auth, field('refresh_token'), clientOf(req));
    if (subject === null) throw new RegistryError('UNAUTHORIZED', 'invalid or expired refresh token');
    noteSubject(res, subject);
    send(res, await issueToken(auth, subject, scopes, false));
  } else {
    res.status(400).json({ error: 'unsupported_grant_type', error_description: 'grant_type must be password or refresh_token' });
  }
};

/** The route is served only with auth on; should it ever be reached without, there is no endpoint. */
function authOf(s: Services): Auth {
  if (s.auth === null) throw new RegistryError('NAME_UNKNOWN', 'no token endpoint: token auth is off');
  return s.auth;
}

/** The form body, through express's parser (its errors are the client's: http/errors.ts tells them). */
function readForm(req: Request, res: Response): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    parseForm(req, res, (err?: unknown) => (err ? reject(err) : resolve((req.body ?? {}) as Record<string, unknown>)));
  });
}

async function basicSubject(auth: Auth, req: Request): Promise<Subject> {
  const credentials = parseAuthorization(req.headers.authorization);
  if (credentials.kind === 'none') return ANONYMOUS;
  if (credentials.kind !== 'basic') throw badCredentials();
  const subject = await authenticate(auth, credentials.username, credentials.password, clientOf(req));
  if (subject === null) throw badCredentials();
  return subject;
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
