// Login credentials as clients send them: HTTP Basic (token endpoint GET, admin
// API) or the password grant's form fields. A name PostgreSQL cannot hold (a NUL,
// a lone surrogate) names no user and is refused here, before any lookup.
import { isStorableText } from '../registry/text.ts';

export interface Credentials {
  username: string;
  password: string;
}

/** The Basic credentials of an Authorization header; null when it holds none or malformed ones. */
export function basicCredentials(header: string | undefined): Credentials | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return null;
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return loginCredentials(decoded.slice(0, colon), decoded.slice(colon + 1));
}

/** The credentials when the name could be a user's; null when no user can bear it. */
export function loginCredentials(username: string, password: string): Credentials | null {
  return isStorableText(username) ? { username, password } : null;
}
