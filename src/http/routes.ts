// The one route table: every path the app serves, each method's handler and the
// access it needs. It drives dispatch, the 405's Allow header and the token
// scope alike (http/dispatch.ts), so a route cannot be served without its rule.
//
// Patterns follow what express matched before the table existed: the fixed paths
// case-insensitively and with an optional trailing slash, the repository routes
// exactly, anchored on the resource keyword nearest the end of the path (names
// hold slashes). Order matters: the first matching route wins.
import * as admin from './admin.ts';
import * as blobs from './blobs.ts';
import * as listing from './listing.ts';
import * as manifests from './manifests.ts';
import type { Namespace, Route, ServiceHandler } from './route.ts';
import * as token from './token.ts';
import * as uploads from './uploads.ts';
import * as ui from './ui-api.ts';
import * as uiSession from './ui-session.ts';
import * as uiStatic from './ui-static.ts';

const base: ServiceHandler = async (_s, _req, res) => {
  res.status(200).json({});
};

export const ROUTES: readonly Route[] = [
  {
    kind: 'service',
    label: '/v2/',
    pattern: /^\/v2\/?$/i,
    methods: { GET: { access: 'token', handler: base }, HEAD: { access: 'token', handler: base } },
    otherMethods: 'token',
  },
  {
    kind: 'service',
    label: '/v2/_catalog',
    pattern: /^\/v2\/_catalog\/?$/i,
    methods: { GET: { access: 'catalog', handler: listing.catalog }, HEAD: { access: 'catalog', handler: listing.catalog } },
    otherMethods: 'catalog',
  },
  {
    kind: 'repository',
    label: '/v2/<name>/manifests/<reference>',
    pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/,
    methods: {
      GET: { access: 'pull', handler: manifests.get },
      HEAD: { access: 'pull', handler: manifests.get },
      PUT: { access: 'push', handler: manifests.put },
      DELETE: { access: 'delete', handler: manifests.remove },
    },
    otherMethods: 'push',
  },
  {
    kind: 'repository',
    label: '/v2/<name>/blobs/uploads/',
    pattern: /^\/v2\/(.+)\/blobs\/uploads\/?()$/,
    methods: { POST: { access: 'push', handler: uploads.start, mounts: true } },
    otherMethods: 'push',
  },
  {
    kind: 'repository',
    label: '/v2/<name>/blobs/uploads/<uuid>',
    pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/,
    // every step of an upload is a write, the status read included
    methods: {
      GET: { access: 'push', handler: uploads.status },
      PATCH: { access: 'push', handler: uploads.patch },
      PUT: { access: 'push', handler: uploads.finish },
      DELETE: { access: 'push', handler: uploads.cancel },
    },
    otherMethods: 'push',
  },
  {
    kind: 'repository',
    label: '/v2/<name>/blobs/<digest>',
    pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/,
    methods: {
      GET: { access: 'pull', handler: blobs.get },
      HEAD: { access: 'pull', handler: blobs.get },
      DELETE: { access: 'delete', handler: blobs.remove },
    },
    otherMethods: 'push',
  },
  {
    kind: 'repository',
    label: '/v2/<name>/tags/list',
    pattern: /^\/v2\/(.+)\/tags\/list()$/,
    methods: { GET: { access: 'pull', handler: listing.tags }, HEAD: { access: 'pull', handler: listing.tags } },
    otherMethods: 'pull',
  },
  {
    kind: 'repository',
    label: '/v2/<name>/referrers/<digest>',
    pattern: /^\/v2\/(.+)\/referrers\/([^/]+)$/,
    methods: { GET: { access: 'pull', handler: listing.referrers }, HEAD: { access: 'pull', handler: listing.referrers } },
    otherMethods: 'pull',
  },
  {
    kind: 'service',
    label: '/token',
    pattern: /^\/token\/?$/i,
    // the endpoint checks the credentials it is given itself: they are what it trades for a token
    methods: {
      GET: { access: 'public', handler: token.get },
      HEAD: { access: 'public', handler: token.get },
      POST: { access: 'public', handler: token.post },
    },
    otherMethods: 'public',
    withAuthOnly: true,
  },
  {
    kind: 'service',
    label: '/admin/events',
    pattern: /^\/admin\/events\/?$/i,
    methods: { GET: { access: 'superuser', handler: admin.events }, HEAD: { access: 'superuser', handler: admin.events } },
    otherMethods: 'superuser',
  },
  // The web UI (docs/ui.md). Its JSON API's access is 'session': the UI's session
  // cookie names the subject (anonymous without one) and each handler checks the
  // action on the repository it names, with the rules tokens are granted by.
  ...uiRoutes(),
];

function uiRoutes(): Route[] {
  const read = (label: string, handler: ServiceHandler): Route => ({
    kind: 'service',
    label: `/ui/api/${label}`,
    pattern: new RegExp(`^/ui/api/${label}$`),
    methods: { GET: { access: 'session', handler }, HEAD: { access: 'session', handler } },
    otherMethods: 'session',
  });
  return [
    {
      kind: 'service',
      label: '/ui/api/session',
      pattern: /^\/ui\/api\/session$/,
      // POST checks the password it is given itself, as /token does
      methods: {
        GET: { access: 'session', handler: uiSession.info },
        POST: { access: 'session', handler: uiSession.login },
        DELETE: { access: 'session', handler: uiSession.logout },
      },
      otherMethods: 'session',
    },
    read('repositories', ui.repositories),
    read('repository', ui.repository),
    read('events', ui.events),
    read('storage', ui.storage),
    {
      kind: 'service',
      label: '/ui/api/manifest',
      pattern: /^\/ui\/api\/manifest$/,
      methods: { GET: { access: 'session', handler: ui.manifest }, HEAD: { access: 'session', handler: ui.manifest }, DELETE: { access: 'session', handler: ui.deleteDigest } },
      otherMethods: 'session',
    },
    {
      kind: 'service',
      label: '/ui/api/tag',
      pattern: /^\/ui\/api\/tag$/,
      methods: { DELETE: { access: 'session', handler: ui.deleteTag } },
      otherMethods: 'session',
    },
    // the page and its modules hold no registry data: open like the login form they carry
    {
      kind: 'service',
      label: '/ui/',
      pattern: /^\/ui\/?$/,
      methods: { GET: { access: 'public', handler: uiStatic.page }, HEAD: { access: 'public', handler: uiStatic.page } },
      otherMethods: 'public',
    },
    {
      kind: 'service',
      label: '/ui/<file>',
      pattern: /^\/ui\/(?!api(\/|$))[a-z0-9-]+\.(ts|css|svg)$/,
      methods: { GET: { access: 'public', handler: uiStatic.asset }, HEAD: { access: 'public', handler: uiStatic.asset } },
      otherMethods: 'public',
    },
  ];
}

/**
 * The operations endpoints (http/metrics.ts, http/probes.ts): served ahead of the
 * table and of the upload limit, on the main listener or on BOLLARD_METRICS_LISTEN,
 * and open by design: scrapers and orchestrators carry no token, and they reveal no
 * repository content.
 */
export const OPERATIONS: ReadonlyArray<{ label: string; methods: readonly ['GET']; access: 'public' }> = [
  { label: '/metrics', methods: ['GET'], access: 'public' },
  { label: '/healthz', methods: ['GET'], access: 'public' },
  { label: '/readyz', methods: ['GET'], access: 'public' },
];

/** Prefixes matched as express matched them: case-insensitively, the bare prefix included. */
export const NAMESPACES: readonly Namespace[] = [
  // a valid token of any scope before the 404, so that the 404 tells nobody unauthenticated which paths exist
  { label: '/v2/*', prefix: /^\/v2(\/|$)/i, unknownPaths: 'token' },
  { label: '/admin/*', prefix: /^\/admin(\/|$)/i, unknownPaths: 'superuser' },
  { label: '/ui/api/*', prefix: /^\/ui\/api(\/|$)/, unknownPaths: 'session' },
];

export type Found = { route: Route; match: RegExpExecArray } | { unknown: Namespace };

/** The route serving a path (with or without token auth), or the namespace of an unknown path; null: neither. */
export function findRoute(path: string, withAuth: boolean): Found | null {
  for (const route of ROUTES) {
    if (route.kind === 'service' && route.withAuthOnly && !withAuth) continue;
    const match = route.pattern.exec(path);
    if (match) return { route, match };
  }
  const ns = NAMESPACES.find((n) => n.prefix.test(path));
  return ns ? { unknown: ns } : null;
}

/** The route label of a request path (e.g. for metrics and the access log); null outside the API. */
export function routeLabel(path: string): string | null {
  const found = findRoute(path, true);
  if (found === null) return null;
  return 'route' in found ? found.route.label : found.unknown.label;
}
