// The route label of a request: the pattern it matched, never its raw path, so
// metrics keep a bounded set of series and logs group requests by endpoint.
// The one place that knows the patterns for observability; when the route table
// (src/http/routes.ts) lands, routeOf becomes a lookup of the label it sets.
import type { Request } from 'express';
import { isValidRepoName } from '../shared/names.ts';

export interface RouteInfo {
  /** e.g. `/v2/<name>/manifests/<reference>`; `other` for a path no route serves. */
  route: string;
  /** The repository the path names, when it is a valid name. */
  repository?: string;
}

// same order as src/http/v2.ts: the resource keyword nearest the end of the path wins
const REPOSITORY_ROUTES: Array<[RegExp, string]> = [
  [/^\/v2\/(.+)\/manifests\/[^/]+$/, '/v2/<name>/manifests/<reference>'],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, '/v2/<name>/blobs/uploads/'],
  [/^\/v2\/(.+)\/blobs\/uploads\/[^/]+$/, '/v2/<name>/blobs/uploads/<uuid>'],
  [/^\/v2\/(.+)\/blobs\/[^/]+$/, '/v2/<name>/blobs/<digest>'],
  [/^\/v2\/(.+)\/tags\/list$/, '/v2/<name>/tags/list'],
  [/^\/v2\/(.+)\/referrers\/[^/]+$/, '/v2/<name>/referrers/<digest>'],
];

const FIXED = new Map<string, string>([
  ['/v2', '/v2/'],
  ['/v2/', '/v2/'],
  ['/v2/_catalog', '/v2/_catalog'],
  ['/token', '/token'],
  ['/admin/events', '/admin/events'],
  ['/metrics', '/metrics'],
  ['/healthz', '/healthz'],
  ['/readyz', '/readyz'],
]);

export function routeOf(req: Pick<Request, 'path'>): RouteInfo {
  const path = typeof req.path === 'string' ? req.path : '';
  const fixed = FIXED.get(path.length > 1 && path.endsWith('/') && path !== '/v2/' ? path.slice(0, -1) : path);
  if (fixed) return { route: fixed };
  for (const [re, route] of REPOSITORY_ROUTES) {
    const m = re.exec(path);
    if (!m) continue;
    const name = decode(m[1] as string);
    return isValidRepoName(name) ? { route, repository: name } : { route };
  }
  return { route: 'other' };
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
