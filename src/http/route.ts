// The shape of a route descriptor (the table itself is http/routes.ts). Every
// method a route serves comes with the access it needs, and every route says what
// the methods it does not serve need before their 405: the types leave no way to
// serve a request without an access rule.
import type { Request, Response } from 'express';
import type { Grant } from '../auth/authorize.ts';
import type { Auth } from '../auth/service.ts';
import type { RegistryContext } from '../registry/context.ts';
import type { RepoName } from '../shared/names.ts';

export const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'] as const;
export type Method = (typeof METHODS)[number];

/** What the app's handlers work with; `auth` is null when auth is off. */
export interface Services {
  ctx: RegistryContext;
  auth: Auth | null;
}

/** Access on the path's repository. `push` implies pull, as in distribution: writers must be able to read what they write. */
export type RepositoryAccess = 'pull' | 'push' | 'delete';
/**
 * Access of the other routes: nothing, any valid token, the catalog scope, a
 * superuser, or the web UI's session (its cookie's subject, anonymous without one;
 * the handler checks the repository it names: http/ui-api.ts).
 */
export type ServiceAccess = 'public' | 'token' | 'catalog' | 'superuser' | 'session';

export interface RouteParams {
  name: RepoName;
  /** The path segment after the resource (reference, digest or upload id); '' when none. */
  arg: string;
  grant: Grant;
}

export type Handler = (ctx: RegistryContext, req: Request, res: Response, p: RouteParams) => Promise<void>;
export type ServiceHandler = (s: Services, req: Request, res: Response, grant: Grant) => Promise<void>;

export interface RepositoryMethod {
  access: RepositoryAccess;
  handler: Handler;
  /** Reads `?mount=&from=`: the access decision then covers the mount's source too. */
  mounts?: true;
}

export interface ServiceMethod {
  access: ServiceAccess;
  handler: ServiceHandler;
}

interface RouteCommon {
  /** Stable name of the route, e.g. for metrics and logs: no repository name or digest in it. */
  label: string;
  /** Matched against the request's path (percent-encoded, as it came). */
  pattern: RegExp;
}

/** A route under /v2/<name>/: the pattern captures the name and the segment after the resource. */
export interface RepositoryRoute extends RouteCommon {
  kind: 'repository';
  methods: Partial<Record<Method, RepositoryMethod>>;
  otherMethods: RepositoryAccess;
}

export interface ServiceRoute extends RouteCommon {
  kind: 'service';
  methods: Partial<Record<Method, ServiceMethod>>;
  otherMethods: ServiceAccess;
  /** Served only with token auth on; otherwise the path is unknown. */
  withAuthOnly?: true;
}

export type Route = RepositoryRoute | ServiceRoute;

/** A path prefix whose paths that no route matches still need this before their 404. */
export interface Namespace {
  label: string;
  prefix: RegExp;
  unknownPaths: ServiceAccess;
}
