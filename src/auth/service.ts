// The access-control service the HTTP layer calls: who is asking (credentials or
// refresh token), and the token that says what they may do.
import type { DatabasePool } from 'slonik';
import type { AuthConfig } from '../config/auth.ts';
import { addGrant } from '../db/grants.ts';
import { findUser, insertUser, listUsers } from '../db/users.ts';
import type { Logger } from '../logger.ts';
import { loadSigningKeys } from './keys.ts';
import { hashPassword, verifyPassword } from './password.ts';
import { ANONYMOUS, claimOfSubject, grantAccess, rulesFor, subjectKey, type Subject } from './permissions.ts';
import type { Access } from './scope.ts';
import { issueAccessToken, issueRefreshToken, verifyRefreshToken, type TokenSettings } from './tokens.ts';

export interface Auth {
  config: AuthConfig;
  pool: DatabasePool;
  tokens: TokenSettings;
  log: Logger;
}

export interface TokenResponse {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  refresh_token?: string;
}

export const ADMIN_USER = 'admin';

export async function createAuth(pool: DatabasePool, config: AuthConfig, log: Logger): Promise<Auth> {
  const keys = await loadSigningKeys(pool, config);
  if (config.adminPassword !== null) await bootstrapAdmin(pool, config.adminPassword, log);
  else if ((await listUsers(pool)).length === 0) log.warn('token auth is on and no user exists: set BOLLARD_ADMIN_PASSWORD or run `bollard users add`');
  const tokens: TokenSettings = {
    issuer: config.issuer,
    service: config.service,
    tokenTtlSeconds: config.tokenTtlSeconds,
    refreshTtlSeconds: config.refreshTtlSeconds,
    keys,
  };
  return { config, pool, tokens, log };
}

/** First run: creates `admin` with every permission, unless it exists (then its password is left alone). */
export async function bootstrapAdmin(pool: DatabasePool, password: string, log: Logger): Promise<void> {
  if ((await findUser(pool, ADMIN_USER)) !== null) return;
  const passwordHash = await hashPassword(password);
  const created = await pool.transaction(async (tx) => {
    if (!(await insertUser(tx, ADMIN_USER, passwordHash))) return false;
    await addGrant(tx, subjectKey({ kind: 'user', name: ADMIN_USER }), '**', ['pull', 'push', 'delete']);
    return true;
  });
  if (created) log.info('created user admin with every permission (BOLLARD_ADMIN_PASSWORD)');
}

/** The user the credentials name, or null when they do not match (same time either way). */
export async function authenticate(auth: Auth, username: string, password: string): Promise<Subject | null> {
  const user = await findUser(auth.pool, username);
  const ok = await verifyPassword(user?.password_hash ?? null, password);
  if (!ok || user === null) {
    auth.log.info('login failed', { user: username.slice(0, 64) });
    return null;
  }
  return { kind: 'user', name: user.name };
}

/** The subject of a refresh token, while that user still exists. */
export async function subjectOfRefreshToken(auth: Auth, refreshToken: string): Promise<Subject | null> {
  const sub = await verifyRefreshToken(auth.tokens, refreshToken);
  if (sub === null || sub === '') return null;
  return (await findUser(auth.pool, sub)) === null ? null : { kind: 'user', name: sub };
}

export async function issueToken(auth: Auth, subject: Subject, requested: readonly Access[], offline: boolean): Promise<TokenResponse> {
  const access = grantAccess(await rulesFor(auth.pool, subject), requested);
  const sub = claimOfSubject(subject);
  const issued = await issueAccessToken(auth.tokens, sub, access);
  const body: TokenResponse = {
    token: issued.token,
    access_token: issued.token,
    expires_in: issued.expiresIn,
    issued_at: issued.issuedAt.toISOString(),
  };
  if (offline && subject.kind === 'user') body.refresh_token = (await issueRefreshToken(auth.tokens, sub)).token;
  return body;
}

export { ANONYMOUS };
