import { RegistryError } from '../errors/codes.ts';
import { deleteManifest, getManifest, putManifest } from '../registry/content/manifests.ts';
import { bareMediaType } from '../registry/content/media-types.ts';
import { proxiedManifest } from '../registry/proxy/manifests.ts';
import { parseReference } from '../shared/names.ts';
import { readSmallBody } from './body.ts';
import { tagParameters } from './params.ts';
import type { Handler } from './route.ts';

/** True when the Accept header admits the media type (no header, or a wildcard, admits all). */
function accepts(header: string | undefined, mediaType: string): boolean {
  if (!header) return true;
  const types = header.split(',').map((t) => bareMediaType(t)).filter((t): t is string => t !== undefined);
  if (types.length === 0) return true;
  return types.some((t) => t === mediaType || t === '*/*' || t === 'application/*');
}

export const get: Handler = async (ctx, req, res, { name, arg }) => {
  const ref = parseReference(arg, 'MANIFEST_UNKNOWN');
  // a proxied repository asks its upstream on a miss, and revalidates tags (docs/proxy.md)
  const proxied = ctx.proxy?.route(name) ? await proxiedManifest(ctx, ctx.proxy, name, ref) : null;
  const m = proxied?.manifest ?? (await getManifest(ctx, name, ref));
  // A digest names exactly one content, so there is nothing to negotiate: it is served with its own
  // type whatever Accept says (Docker 20.10 fetches an index's OCI children by digest without
  // listing the OCI types). Only a tag is negotiated: one whose type the client excludes is 404.
  if (ref.kind === 'tag' && !accepts(req.headers.accept, m.mediaType)) {
    throw new RegistryError('MANIFEST_UNKNOWN', `manifest is ${m.mediaType}, which the Accept header does not admit`);
  }
  res.status(200);
  res.setHeader('Content-Type', m.mediaType);
  res.setHeader('Docker-Content-Digest', m.digest);
  res.setHeader('ETag', `"${m.digest}"`);
  res.setHeader('Content-Length', m.content.length);
  if (proxied?.stale) res.setHeader('Warning', '110 bollard "Response is Stale: the upstream could not revalidate the tag"');
  if (req.method === 'HEAD') res.end();
  else {
    // HEAD is not a pull (as on Docker Hub): clients check tags with it without fetching
    ctx.pulls?.record(m.id);
    res.end(m.content);
  }
};

export const put: Handler = async (ctx, req, res, { name, arg }) => {
  const ref = parseReference(arg);
  const extraTags = tagParameters(req);
  const content = await readSmallBody(req, ctx.options.maxManifestBytes);
  const result = await putManifest(ctx, name, ref, content, req.headers['content-type'], extraTags);
  res.status(201);
  res.setHeader('Location', `/v2/${name}/manifests/${result.digest.text}`);
  res.setHeader('Docker-Content-Digest', result.digest.text);
  if (result.subject) res.setHeader('OCI-Subject', result.subject.text);
  // one header per accepted tag (RFC 9110 list syntax); only for a push with tag parameters
  if (extraTags.length > 0) res.setHeader('OCI-Tag', result.tags);
  res.setHeader('Content-Length', 0);
  res.end();
};

export const remove: Handler = async (ctx, req, res, { name, arg }) => {
  req.resume();
  await deleteManifest(ctx, name, parseReference(arg));
  res.status(202).setHeader('Content-Length', 0);
  res.end();
};
