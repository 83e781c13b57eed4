import type { Request, Response } from 'express';
import { parseDigest } from '../digest/digest.ts';
import { catalogPage, referrersPage, tagsPage } from '../registry/content/listing.ts';
import { OCI_INDEX } from '../registry/content/media-types.ts';
import type { RegistryContext } from '../registry/context.ts';
import { pullableRepositories } from './auth.ts';
import { artifactTypeFilter, pageRequest } from './params.ts';
import type { Handler, MethodTable } from './route.ts';

/** Sets the RFC 5988 Link header for the next page, keeping the other query parameters. */
function linkNext(req: Request, res: Response, last: string | null, n: number): void {
  if (last === null) return;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query)) if (k !== 'last' && k !== 'n' && typeof v === 'string') params.set(k, v);
  params.set('n', String(n));
  params.set('last', last);
  res.setHeader('Link', `<${req.path}?${params.toString()}>; rel="next"`);
}

function sendJson(req: Request, res: Response, body: unknown, contentType = 'application/json'): void {
  const text = JSON.stringify(body);
  res.status(200).setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(text));
  if (req.method === 'HEAD') res.end();
  else res.end(text);
}

const tags: Handler = async (ctx, req, res, { name }) => {
  const page = pageRequest(req, 'tag');
  const result = await tagsPage(ctx, name, page);
  linkNext(req, res, result.next, page.n ?? result.items.length);
  sendJson(req, res, { name, tags: result.items });
};

const referrers: Handler = async (ctx, req, res, { name, arg }) => {
  const subject = parseDigest(arg);
  const artifactType = artifactTypeFilter(req);
  const page = pageRequest(req, 'digest');
  const result = await referrersPage(ctx, name, subject, artifactType, page);
  if (artifactType !== null) res.setHeader('OCI-Filters-Applied', 'artifactType');
  linkNext(req, res, result.next, page.n ?? result.items.length);
  const manifests = result.items.map((r) => ({
    mediaType: r.media_type,
    digest: r.digest,
    size: r.size,
    ...(r.artifact_type ? { artifactType: r.artifact_type } : {}),
    ...(r.annotations ? { annotations: r.annotations } : {}),
  }));
  sendJson(req, res, { schemaVersion: 2, mediaType: OCI_INDEX, manifests }, OCI_INDEX);
};

export async function catalog(ctx: RegistryContext, req: Request, res: Response): Promise<void> {
  const page = pageRequest(req, 'repository name');
  const result = await catalogPage(ctx, page, pullableRepositories(res));
  linkNext(req, res, result.next, page.n ?? result.items.length);
  sendJson(req, res, { repositories: result.items });
}

export const tagRoutes: MethodTable = { GET: tags, HEAD: tags };
export const referrerRoutes: MethodTable = { GET: referrers, HEAD: referrers };
