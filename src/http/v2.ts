// The /v2 API. Repository names contain slashes, so routes are matched here by
// patterns anchored on the resource keyword nearest the end of the path.
import { Router, type Request, type Response } from 'express';
import { RegistryError } from '../errors/codes.ts';
import type { RegistryContext } from '../registry/context.ts';
import { parseRepoName } from '../shared/names.ts';
import { blobRoutes } from './blobs.ts';
import { catalog, referrerRoutes, tagRoutes } from './listing.ts';
import { manifestRoutes } from './manifests.ts';
import type { MethodTable } from './route.ts';
import { uploadSessionRoutes, uploadStartRoutes } from './uploads.ts';

const ROUTES: Array<[RegExp, MethodTable]> = [
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, manifestRoutes],
  [/^\/v2\/(.+)\/blobs\/uploads\/?()$/, uploadStartRoutes],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, uploadSessionRoutes],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, blobRoutes],
  [/^\/v2\/(.+)\/tags\/list()$/, tagRoutes],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, referrerRoutes],
];

export function v2Router(ctx: RegistryContext): Router {
  const router = Router();
  router.use('/v2', (_req, res, next) => {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    next();
  });
  router.get(['/v2', '/v2/'], (_req, res) => {
    res.status(200).json({});
  });
  router.get('/v2/_catalog', async (req, res) => {
    await catalog(ctx, req, res);
  });
  router.all(/^\/v2\/.+/, async (req: Request, res: Response) => {
    const path = req.path;
    for (const [re, table] of ROUTES) {
      const m = re.exec(path);
      if (!m) continue;
      const handler = table[req.method as keyof MethodTable];
      if (!handler) {
        req.resume();
        res.setHeader('Allow', Object.keys(table).join(', '));
        throw new RegistryError('UNSUPPORTED', `${req.method} is not supported on ${path}`);
      }
      const name = parseRepoName(decodePart(m[1] as string));
      await handler(ctx, req, res, { name, arg: decodePart(m[2] as string) });
      return;
    }
    req.resume();
    throw new RegistryError('NAME_UNKNOWN', `no API endpoint at ${path}`);
  });
  return router;
}

/** Percent-decodes a path part; a malformed escape is left as is, for the validators to refuse. */
function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
