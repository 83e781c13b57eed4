// Every access decision of the API is taken here, from what the route needs
// (http/routes.ts says it per method) and the credentials the request brought.
// The answer is a Grant the handler works within, or the refusal distribution
// gives: 401 with a challenge naming the scope a fresh token needs, 401
// insufficient_scope when a fresh token could carry what is missing, 403 DENIED
// when our rules refuse it to this subject.
import { RegistryError } from '../errors/codes.ts';
import { globToRegex } from '../shared/glob.ts';
import { isValidRepoName, type RepoName } from '../shared/names.ts';
import { issuerOf } from './external.ts';
import { allowedActions, pullableRegexes, rulesFor, subjectOfClaim, type Subject } from './permissions.ts';
import { formatScope, missingActions, type Access, type Action } from './scope.ts';
import { authenticate, type Auth } from './service.ts';
import { isSuperuser } from './superuser.ts';
import { verifyAccessToken, type VerifiedAccess } from './tokens.ts';

/** What the Authorization header holds (parsed by http/credentials.ts, the one parser). */
export type Credentials =
  | { kind: 'none' }
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'bearer'; token: string }
  | { kind: 'malformed' };

/** A mount asked by a blob upload: from a named repository, or automatic (any repository the caller may pull). */
export type Mount = { kind: 'from'; from: RepoName } | { kind: 'automatic' };

export type Need =
  /** Nothing: the token endpoint, which checks its own credentials. */
  | { kind: 'public' }
  /** Any valid token, of any scope: the base endpoint, and unknown /v2 paths before their 404. */
  | { kind: 'token' }
  /** `registry:catalog:*`: granted to everyone, the listing is cut to what the caller may pull. */
  | { kind: 'catalog' }
  | { kind: 'repository'; name: RepoName; actions: readonly Action[]; mount: Mount | null }
  /** The admin API: a subject granted every action on `**`, by Bearer token or Basic credentials. */
  | { kind: 'superuser' };

/** What a handler may do beyond what its route needs. */
export interface Grant {
  /** Who was let in; null with auth off, or on a public route. */
  subject: Subject | null;
  /**
   * PostgreSQL regexes of the repositories the caller may pull: null for every one
   * (auth off). Computed only for the catalog and automatic mounts; empty for any
   * other request, so that a listing reached some other way shows nothing.
   */
  pullable: readonly string[] | null;
  /**
   * Whether a cross-repository mount may take from its `from`. When not, the upload
   * starts plain (202), as in distribution: nobody learns whether a repository they
   * cannot read holds a blob.
   */
  mountFrom: boolean;
}

/** The grant of every request when auth is off. */
export const OPEN_GRANT: Grant = { subject: null, pullable: null, mountFrom: true };

/** Where the request came from, for what the answer must say or count. */
export interface Origin {
  /** The client address failed logins count against. */
  client: string;
  /** Our token endpoint as the client reached us: the challenge's realm when none is configured. */
  tokenEndpoint: string;
}

export async function authorize(auth: Auth, need: Need, credentials: Credentials, origin: Origin): Promise<Grant> {
  if (need.kind === 'public') return { subject: null, pullable: [], mountFrom: false };
  if (need.kind === 'superuser') return { subject: await superuser(auth, credentials, origin), pullable: [], mountFrom: false };
  return tokenGrant(auth, need, credentials, origin);
}

async function tokenGrant(auth: Auth, need: Exclude<Need, { kind: 'public' | 'superuser' }>, credentials: Credentials, origin: Origin): Promise<Grant> {
  const wanted = accessOf(need);
  const mount = need.kind === 'repository' ? need.mount : null;
  // a cross-repository mount also asks to read the source, so clients fetch a token covering both
  const challenge = mount?.kind === 'from' ? [...wanted, { type: 'repository', name: mount.from, actions: ['pull'] }] : wanted;
  const verified = credentials.kind === 'bearer' ? await verifyToken(auth, credentials.token) : null;
  if (verified === null) throw unauthorized(auth, origin, challenge, wanted, credentials.kind === 'bearer' ? 'invalid_token' : null);
  const { subject, access } = verified;
  const missing = wanted.map((n) => ({ ...n, actions: missingActions(access, n) })).filter((n) => n.actions.length > 0);
  if (missing.length > 0) {
    // a fresh token may carry what is missing, unless our own rules refuse it to this subject
    if (subject.kind === 'anonymous' || subject.kind === 'external' || (await rulesAllow(auth, subject, missing))) {
      throw unauthorized(auth, origin, challenge, wanted, 'insufficient_scope');
    }
    throw new RegistryError('DENIED', missing.map(detailOf).flat());
  }
  const pullable = need.kind === 'catalog' || mount?.kind === 'automatic' ? await pullableFor(auth, subject, access) : [];
  const mountFrom = mount?.kind === 'from' && missingActions(access, { type: 'repository', name: mount.from, actions: ['pull'] }).length === 0;
  return { subject, pullable, mountFrom };
}

function accessOf(need: Exclude<Need, { kind: 'public' | 'superuser' }>): Access[] {
  if (need.kind === 'catalog') return [{ type: 'registry', name: 'catalog', actions: ['*'] }];
  if (need.kind === 'repository') return [{ type: 'repository', name: need.name, actions: [...need.actions] }];
  return [];
}

/** Our token, or one of the external issuer (picked by its `iss`), with who it speaks for. */
async function verifyToken(auth: Auth, token: string): Promise<{ subject: Subject; access: VerifiedAccess['access'] } | null> {
  if (auth.external !== null && issuerOf(token) === auth.external.issuer) {
    const v = await auth.external.verify(token);
    return v && { subject: { kind: 'external', name: v.sub }, access: v.access };
  }
  const v = await verifyAccessToken(auth.tokens, token);
  return v && { subject: subjectOfClaim(v.sub), access: v.access };
}

/**
 * Regexes of the repositories the caller may pull: from our rules; for an external
 * issuer's subject, the anonymous rules and the repositories its token grants pull on.
 */
async function pullableFor(auth: Auth, subject: Subject, access: readonly Access[]): Promise<string[]> {
  const fromRules = pullableRegexes(await rulesFor(auth.pool, subject));
  if (subject.kind !== 'external') return fromRules;
  // a name no repository can bear matches nothing; left out, it cannot become a regex PostgreSQL refuses
  const named = access
    .filter((a) => a.type === 'repository' && a.actions.includes('pull'))
    .map((a) => a.name.replace(/[*?]/g, ''))
    .filter(isValidRepoName)
    .map(globToRegex);
  return [...fromRules, ...named];
}

async function rulesAllow(auth: Auth, subject: Subject, missing: Access[]): Promise<boolean> {
  const rules = await rulesFor(auth.pool, subject);
  return missing.every((m) => m.type === 'registry' || m.actions.every((a) => allowedActions(rules, m.name).has(a as Action)));
}

function unauthorized(auth: Auth, origin: Origin, scope: Access[], wanted: Access[], error: string | null): RegistryError {
  let challenge = `Bearer realm="${auth.config.realm ?? origin.tokenEndpoint}",service="${auth.config.service}"`;
  if (scope.length > 0) challenge += `,scope="${scope.map(formatScope).join(' ')}"`;
  if (error !== null) challenge += `,error="${error}"`;
  return new RegistryError('UNAUTHORIZED', wanted.map(detailOf).flat(), { 'WWW-Authenticate': challenge });
}

/** distribution's detail shape: one entry per needed action. */
function detailOf(a: Access): Array<{ Type: string; Name: string; Action: string }> {
  return a.actions.map((action) => ({ Type: a.type, Name: a.name, Action: action }));
}

async function superuser(auth: Auth, credentials: Credentials, origin: Origin): Promise<Subject> {
  const subject = await subjectOf(auth, credentials, origin);
  if (subject === null) {
    throw new RegistryError('UNAUTHORIZED', 'the admin API needs the credentials of a superuser', { 'WWW-Authenticate': 'Basic realm="bollard-admin"' });
  }
  if (!(await isSuperuser(auth.pool, subject))) {
    throw new RegistryError('DENIED', 'the admin API is reserved to subjects granted pull,push,delete on **');
  }
  return subject;
}

/** Who our Bearer token or the Basic credentials name; null when they name nobody. */
async function subjectOf(auth: Auth, credentials: Credentials, origin: Origin): Promise<Subject | null> {
  if (credentials.kind === 'bearer') {
    const verified = await verifyAccessToken(auth.tokens, credentials.token);
    return verified === null ? null : subjectOfClaim(verified.sub);
  }
  if (credentials.kind === 'basic') return authenticate(auth, credentials.username, credentials.password, origin.client);
  return null;
}
