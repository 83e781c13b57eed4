import type { Request, Response } from 'express';
import { parseDigest } from '../digest/digest.ts';
import { catalogPage, referrersPage, tagsPage } from '../registry/content/listing.ts';
import { OCI_INDEX } from '../registry/content/media-types.ts';
import { linkNext } from './link.ts';
import { artifactTypeFilter, pageRequest } from './params.ts';
import type { Handler, ServiceHandler } from './route.ts';

/** The Link header when a page follows, with the page size asked for (or this page's). */
function linkNextPage(req: Request, res: Response, last: string | null, n: number): void {
  if (last !== null) linkNext(req, res, { cursor: ['last', last], size: ['n', n] });
}

function sendJson(req: Request, res: Response, body: unknown, contentType = 'application/json'): void {
  const text = JSON.stringify(body);
  res.status(200).setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(text));
  if (req.method === 'HEAD') res.end();
  else res.end(text);
}

export const tags: Handler = async (ctx, req, res, { name }) => {
  const page = pageRequest(req, 'tag');
  const result = await tagsPage(ctx, name, page);
  linkNextPage(req, res, result.next, page.n ?? result.items.length);
  sendJson(req, res, { name, tags: result.items });
};

export const referrers: Handler = async (ctx, req, res, { name, arg }) => {
  const subject = parseDigest(arg);
  const artifactType = artifactTypeFilter(req);
  const page = pageRequest(req, 'digest');
  const result = await referrersPage(ctx, name, subject, artifactType, page);
  if (artifactType !== null) res.setHeader('OCI-Filters-Applied', 'artifactType');
  linkNextPage(req, res, result.next, page.n ?? result.items.length);
  const manifests = result.items.map((r) => ({
    mediaType: r.media_type,
    digest: r.digest,
    size: r.size,
    ...(r.artifact_type ? { artifactType: r.artifact_type } : {}),
    ...(r.annotations ? { annotations: r.annotations } : {}),
  }));
  sendJson(req, res, { schemaVersion: 2, mediaType: OCI_INDEX, manifests }, OCI_INDEX);
};

export const catalog: ServiceHandler = async ({ ctx }, req, res, grant) => {
  const page = pageRequest(req, 'repository name');
  const result = await catalogPage(ctx, page, grant.pullable);
  linkNextPage(req, res, result.next, page.n ?? result.items.length);
  sendJson(req, res, { repositories: result.items });
};
