// The access-control service the HTTP layer calls: who is asking (credentials or
// refresh token), and the token that says what they may do.
import type { DatabasePool } from 'slonik';
import { addGrant } from '../db/grants.ts';
import { findRobot } from '../db/robots.ts';
import { findUser, insertUser, listUsers } from '../db/users.ts';
import type { Logger } from '../logger.ts';
import { loadSigningKeys } from './keys.ts';
import type { AuthConfig } from './options.ts';
import { hashPassword, verifyPassword } from './password.ts';
import { createExternalVerifier, type ExternalVerifier } from './external.ts';
import { ANONYMOUS, claimOfSubject, grantAccess, ROBOT_PREFIX, rulesFor, subjectKey, subjectOfClaim, type Subject } from './permissions.ts';
import { checkLoginAllowed, recordLoginFailure } from './rate-limit.ts';
import type { Access } from './scope.ts';
import { issueAccessToken, issueRefreshToken, verifyRefreshToken, type TokenSettings } from './tokens.ts';

export interface Auth {
  config: AuthConfig;
  pool: DatabasePool;
  tokens: TokenSettings;
  log: Logger;
  /** Verifies tokens of the configured external issuer; null when there is none. */
  external: ExternalVerifier | null;
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
  const external = config.external ? await createExternalVerifier(config.external) : null;
  return { config, pool, tokens, log, external };
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

/**
 * The user or robot the credentials name, or null when they do not match. The
 * answer takes as long either way (a dummy hash is checked for unknown names).
 * Throws 429 while the client or the name has too many recent failures.
 */
export async function authenticate(auth: Auth, username: string, password: string, client: string): Promise<Subject | null> {
  const attempt = { client, user: username };
  await checkLoginAllowed(auth.pool, auth.config.loginLimits, attempt);
  const subject = await checkCredentials(auth, username, password);
  if (subject === null) {
    await recordLoginFailure(auth.pool, auth.config.loginLimits, attempt);
    auth.log.info('login failed', { user: username.slice(0, 64), client }); // never the password
  }
  return subject;
}

async function checkCredentials(auth: Auth, username: string, password: string): Promise<Subject | null> {
  if (username.startsWith(ROBOT_PREFIX)) {
    const robot = await findRobot(auth.pool, username.slice(ROBOT_PREFIX.length));
    const ok = await verifyPassword(robot?.secret_hash ?? null, password);
    return ok && robot ? { kind: 'robot', name: robot.name } : null;
  }
  const user = await findUser(auth.pool, username);
  const ok = await verifyPassword(user?.password_hash ?? null, password);
  return ok && user ? { kind: 'user', name: user.name } : null;
}

/** The subject of a refresh token, while that user or robot still exists. Failures count against the client. */
export async function subjectOfRefreshToken(auth: Auth, refreshToken: string, client: string): Promise<Subject | null> {
  const attempt = { client, user: null };
  await checkLoginAllowed(auth.pool, auth.config.loginLimits, attempt);
  const sub = await verifyRefreshToken(auth.tokens, refreshToken);
  const subject = sub === null || sub === '' ? null : await existing(auth, subjectOfClaim(sub));
  if (subject === null) await recordLoginFailure(auth.pool, auth.config.loginLimits, attempt);
  return subject;
}

async function existing(auth: Auth, s: Subject): Promise<Subject | null> {
  if (s.kind === 'user') return (await findUser(auth.pool, s.name)) === null ? null : s;
  if (s.kind === 'robot') return (await findRobot(auth.pool, s.name)) === null ? null : s;
  return null;
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
  if (offline && (subject.kind === 'user' || subject.kind === 'robot')) body.refresh_token = (await issueRefreshToken(auth.tokens, sub)).token;
  return body;
}

export { ANONYMOUS };
