// The route table (src/http/routes.ts) is the only thing that says who may call
// what. These tests fail when a route or a method has no access rule, when the
// app answers a request the table does not know, or when the token scope a
// request is challenged with is not the one its rule names.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { METHODS, type Route } from '../../src/http/route.ts';
import { findRoute, NAMESPACES, OPERATIONS, routeLabel, ROUTES } from '../../src/http/routes.ts';
import { ADMIN_PASSWORD, challenge, createAuthRegistry, fetchToken, type AuthRegistry } from './support.ts';

const ACCESS = {
  repository: ['pull', 'push', 'delete'],
  service: ['public', 'token', 'catalog', 'superuser', 'session'],
} as const;
/** What each is sent: every method a route could declare, and some no route declares. */
const PROBES = [...METHODS, 'OPTIONS', 'TRACE'];
const REPO = 'probe/app';

let r: AuthRegistry;
beforeAll(async () => {
  r = await createAuthRegistry();
});
afterAll(() => r?.close());

/** A path the route serves, made from its label. */
function samplePath(route: Route): string {
  return route.label
    .replace('<name>', REPO)
    .replace('<reference>', 'latest')
    .replace('<uuid>', '2d7e5c1a-0000-4000-8000-000000000000')
    .replace('<digest>', `sha256:${'a'.repeat(64)}`)
    .replace('<file>', 'main.ts');
}

function ruleOf(route: Route, method: string): string {
  return (route.methods as Record<string, { access: string } | undefined>)[method]?.access ?? route.otherMethods;
}

function send(method: string, path: string, auth?: string) {
  const req = (request(r.app) as unknown as Record<string, (p: string) => request.Test>)[method.toLowerCase()]?.(path);
  if (!req) throw new Error(`supertest cannot send ${method}`);
  return auth ? req.set('Authorization', auth) : req;
}

describe('the table itself', () => {
  test('every route and every method it serves has a known access rule and a handler', () => {
    expect(ROUTES.length).toBeGreaterThan(0);
    for (const route of ROUTES) {
      const known: readonly string[] = ACCESS[route.kind];
      expect(known, `${route.label}: methods it does not serve`).toContain(route.otherMethods);
      const methods = Object.entries(route.methods);
      expect(methods.length, route.label).toBeGreaterThan(0);
      for (const [method, entry] of methods) {
        expect(METHODS, `${route.label}: ${method}`).toContain(method);
        expect(known, `${route.label} ${method}`).toContain(entry?.access);
        expect(typeof entry?.handler, `${route.label} ${method}`).toBe('function');
      }
    }
    for (const ns of NAMESPACES) expect(ACCESS.service, ns.label).toContain(ns.unknownPaths);
  });

  test('only the token endpoint and the web UI\'s page and modules (which hold no registry data) are open to requests without a token', () => {
    const open = ROUTES.flatMap((route) => PROBES.filter((m) => ruleOf(route, m) === 'public').map((m) => `${m} ${route.label}`));
    expect(open.every((what) => / (\/token|\/ui\/|\/ui\/<file>)$/.test(what)), open.join(', ')).toBe(true);
    expect(NAMESPACES.filter((ns) => ns.unknownPaths === 'public')).toEqual([]);
  });

  test('labels are unique, and each label names a path its own route serves', () => {
    expect(new Set(ROUTES.map((route) => route.label)).size).toBe(ROUTES.length);
    for (const route of ROUTES) {
      const found = findRoute(samplePath(route), true);
      expect(found !== null && 'route' in found ? found.route.label : null, route.label).toBe(route.label);
      expect(routeLabel(samplePath(route))).toBe(route.label);
    }
    expect(routeLabel('/v2/some/where/else')).toBe('/v2/*');
    expect(routeLabel('/elsewhere')).toBeNull();
  });

  test('the express app routes nothing itself but the open operations endpoints: every other route is the table\'s', () => {
    const stack = (r.app as unknown as { router: { stack: Layer[] } }).router.stack;
    expect(stack.length).toBeGreaterThan(0);
    const served = routesIn(stack);
    expect(served.filter((path) => !OPERATIONS.some((o) => o.label === path))).toEqual([]);
    expect(served.sort()).toEqual(OPERATIONS.map((o) => o.label).sort());
  });
});

describe('unauthenticated, every method of every route gets the challenge its rule names', () => {
  for (const route of ROUTES) {
    test(route.label, async () => {
      const path = samplePath(route);
      for (const method of PROBES) {
        const res = await send(method, path);
        const rule = ruleOf(route, method);
        const what = `${method} ${path} (${rule})`;
        if (rule === 'public') {
          expect(res.status, what).not.toBe(401);
          continue;
        }
        if (rule === 'session') {
          // no session cookie: the UI's anonymous visitor, whom the handler answers itself (test/ui/api.test.ts)
          expect(res.status, what).toBeLessThan(500);
          expect(res.headers['www-authenticate'], what).toBeUndefined();
          continue;
        }
        expect(res.status, what).toBe(401);
        const header = res.headers['www-authenticate'] as string;
        if (rule === 'superuser') {
          expect(header, what).toBe('Basic realm="bollard-admin"');
          continue;
        }
        const scope = challenge(header)['scope'];
        if (rule === 'token') expect(scope, what).toBeUndefined();
        else if (rule === 'catalog') expect(scope, what).toBe('registry:catalog:*');
        else expect(scope, what).toBe(`repository:${REPO}:${rule === 'push' ? 'pull,push' : rule}`);
      }
    });
  }

  test('a path no route matches needs what its namespace says, and outside them is a plain 404', async () => {
    for (const method of PROBES) {
      expect((await send(method, '/v2/probe/app/nothing-here')).status, method).toBe(401);
      expect((await send(method, '/admin/nothing-here')).headers['www-authenticate'], method).toBe('Basic realm="bollard-admin"');
      expect((await send(method, '/elsewhere')).status, method).toBe(404);
    }
  });
});

describe('with every right, a method a route does not serve is 405 with the table\'s Allow', () => {
  test.each(ROUTES.filter((route) => route.kind === 'repository').map((route) => [route.label, route] as const))('%s', async (_label, route) => {
    const token = await fetchToken(r.app, ['admin', ADMIN_PASSWORD], [`repository:${REPO}:pull,push,delete`]);
    for (const method of PROBES.filter((m) => !(m in route.methods))) {
      const res = await send(method, samplePath(route), `Bearer ${token}`);
      expect(res.status, method).toBe(405);
      expect(res.headers['allow'], method).toBe(Object.keys(route.methods).join(', '));
    }
  });
});

interface Layer {
  route?: { path: unknown };
  handle?: { stack?: Layer[] };
}

/** The paths express routes itself, in nested routers too. */
function routesIn(stack: readonly Layer[]): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) return [String(layer.route.path)];
    return layer.handle?.stack ? routesIn(layer.handle.stack) : [];
  });
}
