// Token auth for /v2 (BOLLARD_AUTH=token). Each request needs a scope computed from
// its method and path; without a valid bearer token the answer is 401 with the
// challenge naming that scope. A token lacking the scope gets 401 insufficient_scope
// when a fresh token could carry it, 403 DENIED when the rules refuse it.
import type { Request, RequestHandler, Response } from 'express';
import { rulesFor, allowedActions, pullableRegexes, subjectOfClaim, type Subject } from '../auth/permissions.ts';
import { formatScope, missingActions, type Access, type Action } from '../auth/scope.ts';
import type { Auth } from '../auth/service.ts';
import { issuerOf } from '../auth/external.ts';
import { globToRegex } from '../shared/glob.ts';
import { verifyAccessToken, type VerifiedAccess } from '../auth/tokens.ts';
import { RegistryError } from '../errors/codes.ts';
import { isValidRepoName, parseRepoName } from '../shared/names.ts';

type Kind = 'manifest' | 'upload' | 'blob' | 'read';

// Same order and patterns as the router (src/http/v2.ts), so the scope names the repository it will serve.
const ROUTES: Array<[RegExp, Kind]> = [
  [/^\/v2\/(.+)\/manifests\/[^/]+$/, 'manifest'],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, 'upload'],
  [/^\/v2\/(.+)\/blobs\/uploads\/[^/]+$/, 'upload'],
  [/^\/v2\/(.+)\/blobs\/[^/]+$/, 'blob'],
  [/^\/v2\/(.+)\/tags\/list$/, 'read'],
  [/^\/v2\/(.+)\/referrers\/[^/]+$/, 'read'],
];

/** What the request needs: [] for the base endpoint and unknown paths (a valid token suffices). */
export function neededAccess(method: string, path: string): Access[] {
  if (/^\/v2\/_catalog\/?$/i.test(path)) return [{ type: 'registry', name: 'catalog', actions: ['*'] }];
  for (const [re, kind] of ROUTES) {
    const m = re.exec(path);
    if (!m) continue;
    return [{ type: 'repository', name: decode(m[1] as string), actions: actionsFor(kind, method) }];
  }
  return [];
}

function actionsFor(kind: Kind, method: string): Action[] {
  if (kind === 'upload') return ['pull', 'push']; // as distribution: writers must be able to read what they write
  if (kind === 'read' || method === 'GET' || method === 'HEAD') return ['pull'];
  if (method === 'DELETE') return ['delete'];
  return ['pull', 'push'];
}

export function tokenAuth(auth: Auth): RequestHandler {
  return async (req, res, next) => {
    // express matches routes case-insensitively and with a trailing slash: so must we
    if (!/^\/v2(\/|$)/i.test(req.path)) return next();
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0'); // clients look for it on the 401 too
    const need = neededAccess(req.method, req.path);
    const challengeScope = [...need, ...mountSource(req)];
    checkNames(req, challengeScope);
    const token = bearer(req);
    const verified = token === null ? null : await verifyToken(auth, token);
    if (verified === null) throw reject(req, auth, challengeScope, need, token === null ? null : 'invalid_token');
    const { subject, access } = verified;
    const missing = need.map((n) => ({ ...n, actions: missingActions(access, n) })).filter((n) => n.actions.length > 0);
    if (missing.length > 0) {
      // a fresh token may carry what is missing, unless our own rules refuse it to this subject
      if (subject.kind === 'anonymous' || subject.kind === 'external' || (await rulesAllow(auth, subject, missing))) {
        throw reject(req, auth, challengeScope, need, 'insufficient_scope');
      }
      req.resume();
      throw new RegistryError('DENIED', missing.map(detailOf).flat());
    }
    res.locals['authSubject'] = subject;
    // fail closed: a listing reached by a path not recognised above shows nothing
    const listing = need[0]?.type === 'registry';
    const autoMount = isAutoMount(req);
    const pullable = listing || autoMount ? await pullableFor(auth, subject, access) : [];
    res.locals['pullableRegexes'] = listing ? pullable : [];
    // fail closed too: in token mode an automatic mount sees only what the caller may pull
    res.locals['mountVisibleIn'] = autoMount ? pullable : [];
    restrictMount(req, access);
    next();
  };
}

/**
 * A malformed repository name (the path's, or a mount's `from`) is a 400 NAME_INVALID
 * whoever asks, as without auth: the name's syntax reveals nothing, and no rule could
 * grant access to it anyway. Nor could it go into a challenge header.
 */
function checkNames(req: Request, need: readonly Access[]): void {
  for (const n of need) {
    if (n.type !== 'repository') continue;
    try {
      parseRepoName(n.name);
    } catch (err) {
      req.resume();
      throw err;
    }
  }
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

/** The repositories an automatic mount may take the blob from (token mode), or null when unrestricted. */
export function mountVisibleIn(res: Response): readonly string[] | null {
  const v = res.locals['mountVisibleIn'] as string[] | undefined;
  return v ?? null;
}

function isAutoMount(req: Request): boolean {
  if (req.method !== 'POST') return false;
  const q = queryOf(req.url);
  return q.has('mount') && !q.get('from');
}

/**
 * The query of a request-target. Read from the text after '?', not through `new URL`:
 * an absolute-form target with a host URL refuses (`POST http://x:99999/v2/...`) would throw.
 */
function queryOf(url: string): URLSearchParams {
  const at = url.indexOf('?');
  return new URLSearchParams(at < 0 ? '' : url.slice(at + 1));
}

/** The regexes of repositories the caller may pull, set on catalog requests in token mode. */
export function pullableRepositories(res: Response): readonly string[] | null {
  const v = res.locals['pullableRegexes'] as string[] | undefined;
  return v ?? null;
}

async function rulesAllow(auth: Auth, subject: Subject, missing: Access[]): Promise<boolean> {
  const rules = await rulesFor(auth.pool, subject);
  return missing.every((m) => m.type === 'registry' || m.actions.every((a) => allowedActions(rules, m.name).has(a as Action)));
}

function reject(req: Request, auth: Auth, scope: Access[], need: Access[], error: string | null): RegistryError {
  req.resume(); // drain a request body so the connection can be reused
  const realm = auth.config.realm ?? `${req.protocol}://${req.get('host') ?? 'localhost'}/token`;
  let challenge = `Bearer realm="${realm}",service="${auth.config.service}"`;
  if (scope.length > 0) challenge += `,scope="${scope.map(formatScope).join(' ')}"`;
  if (error !== null) challenge += `,error="${error}"`;
  return new RegistryError('UNAUTHORIZED', need.map(detailOf).flat(), { 'WWW-Authenticate': challenge });
}

/** distribution's detail shape: one entry per needed action. */
function detailOf(a: Access): Array<{ Type: string; Name: string; Action: string }> {
  return a.actions.map((action) => ({ Type: a.type, Name: a.name, Action: action }));
}

function bearer(req: Request): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m ? (m[1] as string) : null;
}

/** A cross-repository mount also asks to read the source, so clients fetch a token covering both. */
function mountSource(req: Request): Access[] {
  if (req.method !== 'POST') return [];
  const from = queryOf(req.url).get('from');
  return from ? [{ type: 'repository', name: from, actions: ['pull'] }] : [];
}

/**
 * A mount from a repository the caller may not read becomes a plain upload (202),
 * as in distribution: nobody learns whether a blob exists in a repository they
 * cannot read. Automatic mount (no `from`) stays: it is limited to the
 * repositories the caller may pull (mountVisibleIn).
 */
function restrictMount(req: Request, granted: readonly Access[]): void {
  if (req.method !== 'POST') return;
  const q = queryOf(req.url);
  const from = q.get('from');
  if (!q.has('mount') || !from) return;
  if (missingActions(granted, { type: 'repository', name: from, actions: ['pull'] }).length === 0) return;
  q.delete('mount');
  q.delete('from');
  const at = req.url.indexOf('?');
  const rest = q.toString();
  req.url = req.url.slice(0, at) + (rest === '' ? '' : `?${rest}`);
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
