// Access and refresh tokens: JWTs signed ES256. Access tokens follow the Docker
// token spec (iss, sub, aud = service, exp, nbf, iat, jti, access); refresh tokens
// carry no access, only the subject, and a distinct `typ` so neither can pass for
// the other.
import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { ALGORITHM, type SigningKeys } from './keys.ts';
import type { Access } from './scope.ts';

const ACCESS_TYP = 'JWT';
const REFRESH_TYP = 'bollard-refresh+jwt';
/** Clock skew tolerated between replicas and clients' token servers. */
export const LEEWAY_SECONDS = 30;

export interface TokenSettings {
  issuer: string;
  service: string;
  tokenTtlSeconds: number;
  refreshTtlSeconds: number;
  keys: SigningKeys;
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
  issuedAt: Date;
}

async function sign(t: TokenSettings, typ: string, sub: string, ttl: number, claims: Record<string, unknown>): Promise<IssuedToken> {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: ALGORITHM, kid: t.keys.kid, typ })
    .setIssuer(t.issuer)
    .setSubject(sub)
    .setAudience(t.service)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + ttl)
    .setJti(randomUUID())
    .sign(t.keys.privateKey);
  return { token, expiresIn: ttl, issuedAt: new Date(now * 1000) };
}

export function issueAccessToken(t: TokenSettings, sub: string, access: readonly Access[]): Promise<IssuedToken> {
  return sign(t, ACCESS_TYP, sub, t.tokenTtlSeconds, { access });
}

export function issueRefreshToken(t: TokenSettings, sub: string): Promise<IssuedToken> {
  return sign(t, REFRESH_TYP, sub, t.refreshTtlSeconds, {});
}

export const AccessClaim = z.array(z.object({ type: z.string(), name: z.string(), actions: z.array(z.string()) }));

export interface VerifiedAccess {
  sub: string;
  access: Access[];
}

async function verify(t: TokenSettings, token: string, typ: string) {
  const { payload } = await jwtVerify(token, t.keys.verifyKey, {
    algorithms: [ALGORITHM],
    issuer: t.issuer,
    audience: t.service,
    typ,
    clockTolerance: LEEWAY_SECONDS,
    requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
  });
  return payload;
}

/** The token's subject and access, or null when it is not a valid access token of ours. */
export async function verifyAccessToken(t: TokenSettings, token: string): Promise<VerifiedAccess | null> {
  try {
    const payload = await verify(t, token, ACCESS_TYP);
    const access = AccessClaim.safeParse(payload['access'] ?? []);
    if (!access.success) return null;
    return { sub: payload.sub as string, access: access.data };
  } catch {
    return null;
  }
}

/** The subject of a valid refresh token of ours, else null. */
export async function verifyRefreshToken(t: TokenSettings, token: string): Promise<string | null> {
  try {
    return (await verify(t, token, REFRESH_TYP)).sub as string;
  } catch {
    return null;
  }
}

/** The web UI's session (http/ui-session.ts): a subject only, with a typ of its own so it passes for no other token. */
const SESSION_TYP = 'bollard-ui-session+jwt';

export function issueSessionToken(t: TokenSettings, sub: string, ttl: number): Promise<IssuedToken> {
  return sign(t, SESSION_TYP, sub, ttl, {});
}

/** The subject of a valid UI session token of ours, else null. */
export async function verifySessionToken(t: TokenSettings, token: string): Promise<string | null> {
  try {
    return (await verify(t, token, SESSION_TYP)).sub as string;
  } catch {
    return null;
  }
}
