// The one reader of credentials: the Authorization header of every request
// (Bearer for /v2, Bearer or Basic for the admin API, Basic for the token
// endpoint) and the password grant's form fields. A name PostgreSQL cannot hold
// (a NUL, a lone surrogate) names no user and is refused here, before any lookup.
import type { Request } from 'express';
import type { Credentials, Origin } from '../auth/authorize.ts';
import { isStorableText } from '../registry/text.ts';

export interface Login {
  username: string;
  password: string;
}

const NONE: Credentials = { kind: 'none' };
const MALFORMED: Credentials = { kind: 'malformed' };

/** What an Authorization header holds; an empty or unparsable one is malformed, not absent. */
export function parseAuthorization(header: string | undefined): Credentials {
  if (header === undefined) return NONE;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return { kind: 'bearer', token: bearer[1] as string };
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!basic) return MALFORMED;
  const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const login = colon < 0 ? null : loginCredentials(decoded.slice(0, colon), decoded.slice(colon + 1));
  return login === null ? MALFORMED : { kind: 'basic', ...login };
}

/** The credentials when the name could be a user's; null when no user can bear it. */
export function loginCredentials(username: string, password: string): Login | null {
  return isStorableText(username) ? { username, password } : null;
}

/**
 * The address failed logins are counted against (express's req.ip: the socket, or
 * per `trust proxy`). A request whose connection is already destroyed has no socket,
 * and express's getter then throws: such a client is 'unknown'.
 */
export function clientOf(req: Pick<Request, 'ip' | 'socket'>): string {
  if (!req.socket) return 'unknown';
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

export function originOf(req: Request): Origin {
  return { client: clientOf(req), tokenEndpoint: `${req.protocol}://${req.get('host') ?? 'localhost'}/token` };
}
