// The one entry of the API. A request is matched against the route table
// (http/routes.ts); what its method needs is asked of src/auth/authorize.ts; the
// handler then runs with the grant it got. Everything refused before a handler
// runs (malformed name, credentials, 405, 404) drains the request body, so the
// connection can be reused.
import type { Request, RequestHandler, Response } from 'express';
import { authorize, OPEN_GRANT, type Grant, type Mount, type Need } from '../auth/authorize.ts';
import { RegistryError } from '../errors/codes.ts';
import { parseRepoName, type RepoName } from '../shared/names.ts';
import { refuseProxiedWrite } from './proxy.ts';
import { noteSubject } from './request-user.ts';
import { originOf, parseAuthorization } from './credentials.ts';
import type { Method, RepositoryAccess, RepositoryRoute, ServiceAccess, ServiceRoute, Services } from './route.ts';
import { findRoute } from './routes.ts';
import { sessionGrant } from './ui-session.ts';
import { uiHeaders } from './ui-static.ts';

const V2 = /^\/v2(\/|$)/i;

export function dispatcher(s: Services): RequestHandler {
  return async (req, res, next) => {
    const found = findRoute(req.path, s.auth !== null);
    if (found === null) return next();
    if (V2.test(req.path)) res.setHeader('Docker-Distribution-API-Version', 'registry/2.0'); // clients look for it on a 401 too
    let run: () => Promise<void>;
    try {
      if ('unknown' in found) {
        await serviceGrant(s, req, res, found.unknown.unknownPaths);
        throw new RegistryError('NAME_UNKNOWN', `no API endpoint at ${req.path}`);
      }
      const { route, match } = found;
      run = route.kind === 'repository' ? await admitRepository(s, req, res, route, match) : await admitService(s, req, res, route);
    } catch (err) {
      req.resume();
      throw err;
    }
    await run();
  };
}

async function admitRepository(s: Services, req: Request, res: Response, route: RepositoryRoute, match: RegExpExecArray): Promise<() => Promise<void>> {
  // a malformed name is 400 NAME_INVALID whoever asks: its syntax reveals nothing, no rule could grant it, nor could it go into a challenge
  const name = parseRepoName(decodePart(match[1] as string));
  const entry = route.methods[req.method as Method];
  const grant = await grantFor(s, req, res, () => repositoryNeed(name, entry?.access ?? route.otherMethods, entry?.mounts ? mountOf(req) : null));
  if (!entry) throw unsupported(req, route);
  if (entry.access !== 'pull') refuseProxiedWrite(s.ctx, name);
  const params = { name, arg: decodePart(match[2] as string), grant };
  return () => entry.handler(s.ctx, req, res, params);
}

async function admitService(s: Services, req: Request, res: Response, route: ServiceRoute): Promise<() => Promise<void>> {
  const entry = route.methods[req.method as Method];
  const grant = await serviceGrant(s, req, res, entry?.access ?? route.otherMethods);
  if (!entry) throw unsupported(req, route);
  return () => entry.handler(s, req, res, grant);
}

/** The UI's session grant comes from its cookie (http/ui-session.ts); every other from the Authorization header. */
async function serviceGrant(s: Services, req: Request, res: Response, access: ServiceAccess): Promise<Grant> {
  if (access === 'session') {
    uiHeaders(res);
    return s.auth === null ? OPEN_GRANT : sessionGrant(s.auth, req, res);
  }
  return grantFor(s, req, res, () => serviceNeed(access));
}

/** The open grant with auth off; otherwise what authorize() decides (the need is built only then). */
async function grantFor(s: Services, req: Request, res: Response, need: () => Need): Promise<Grant> {
  if (s.auth === null) return OPEN_GRANT;
  const grant = await authorize(s.auth, need(), parseAuthorization(req.headers.authorization), originOf(req));
  noteSubject(res, grant.subject);
  return grant;
}

function repositoryNeed(name: RepoName, access: RepositoryAccess, mount: Mount | null): Need {
  const actions = access === 'push' ? (['pull', 'push'] as const) : ([access] as const);
  return { kind: 'repository', name, actions: [...actions], mount };
}

function serviceNeed(access: Exclude<ServiceAccess, 'session'>): Need {
  return { kind: access };
}

/**
 * The mount a blob upload asks (`?mount=<digest>&from=<name>`): a `from` is read
 * even without `mount`, so its name is checked and the challenge asks for it.
 */
function mountOf(req: Request): Mount | null {
  const q = queryOf(req.url);
  const from = q.get('from');
  if (from) return { kind: 'from', from: parseRepoName(from) };
  return q.has('mount') ? { kind: 'automatic' } : null;
}

/**
 * The query of a request-target. Read from the text after '?', not through `new URL`:
 * an absolute-form target with a host URL refuses (`POST http://x:99999/v2/...`) would throw.
 */
function queryOf(url: string): URLSearchParams {
  const at = url.indexOf('?');
  return new URLSearchParams(at < 0 ? '' : url.slice(at + 1));
}

function unsupported(req: Request, route: RepositoryRoute | ServiceRoute): RegistryError {
  return new RegistryError('UNSUPPORTED', `${req.method} is not supported on ${req.path}`, { Allow: Object.keys(route.methods).join(', ') });
}

/** Percent-decodes a path part; a malformed escape is left as is, for the validators to refuse. */
function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
