// The route label of a request: the pattern it matched, never its raw path, so
// metrics keep a bounded set of series and logs group requests by endpoint. The
// labels are the route table's (src/http/routes.ts); the operations endpoints,
// served ahead of the table, have their own.
import type { Request } from 'express';
import { isValidRepoName } from '../shared/names.ts';
import { findRoute, OPERATIONS } from './routes.ts';

export interface RouteInfo {
  /** e.g. `/v2/<name>/manifests/<reference>`; `other` for a path no route serves. */
  route: string;
  /** The repository the path names, when it is a valid name. */
  repository?: string;
}

const OPERATION_LABELS = new Set(OPERATIONS.map((o) => o.label));

export function routeOf(req: Pick<Request, 'path'>): RouteInfo {
  const path = typeof req.path === 'string' ? req.path : '';
  if (OPERATION_LABELS.has(path)) return { route: path };
  const found = findRoute(path, true);
  if (found === null) return { route: 'other' };
  if (!('route' in found)) return { route: found.unknown.label };
  if (found.route.kind !== 'repository') return { route: found.route.label };
  const name = decode(found.match[1] as string);
  return isValidRepoName(name) ? { route: found.route.label, repository: name } : { route: found.route.label };
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
