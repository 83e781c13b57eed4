import type { Response } from 'express';
import { parseDigest } from '../digest/digest.ts';
import { RegistryError } from '../errors/codes.ts';
import { blobRedirect, deleteBlob, sendBlob, statBlob } from '../registry/content/blobs.ts';
import { byteRange } from './params.ts';
import { isProxied, noteCachedBlob, sendProxiedBlob } from './proxy.ts';
import type { Handler } from './route.ts';

export const get: Handler = async (ctx, req, res, { name, arg }) => {
  const digest = parseDigest(arg);
  let blob = await statBlob(ctx, name, digest).catch((err: unknown) => {
    if (isProxied(ctx, name, err, 'BLOB_UNKNOWN')) return null;
    throw err;
  });
  if (blob === null) {
    if (await sendProxiedBlob(ctx, req, res, name, digest, (chunk) => writeChunk(res, chunk))) return;
    blob = await statBlob(ctx, name, digest); // cached meanwhile: by another pull's fetch, or from another repository
  }
  noteCachedBlob(ctx, name);
  res.setHeader('Docker-Content-Digest', blob.digest.text);
  const redirect = req.method === 'GET' ? await blobRedirect(ctx, blob) : null;
  if (redirect) {
    // the client fetches (and ranges) straight from storage, as distribution's redirects do
    res.status(307).setHeader('Location', redirect);
    res.setHeader('Content-Length', 0);
    res.end();
    return;
  }
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('ETag', `"${blob.digest.text}"`);
  res.setHeader('Cache-Control', 'max-age=31536000');
  res.setHeader('Content-Type', 'application/octet-stream');
  const range = byteRange(req.headers.range, blob.size);
  if (range.kind === 'unsatisfiable') {
    throw new RegistryError('RANGE_INVALID', `range ${req.headers.range} outside blob of ${blob.size} bytes`, {
      'Content-Range': `bytes */${blob.size}`,
    });
  }
  const span = range.kind === 'range' ? range : null;
  if (span) {
    res.status(206).setHeader('Content-Range', `bytes ${span.start}-${span.end}/${blob.size}`);
  } else {
    res.status(200);
  }
  res.setHeader('Content-Length', span ? span.end - span.start + 1 : blob.size);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  try {
    await sendBlob(ctx, blob, span ?? undefined, (chunk) => writeChunk(res, chunk));
    res.end();
  } catch (err) {
    // the client went away (before the first byte or later): nobody is left to tell, and it is no server error
    if (res.destroyed) return;
    if (!res.headersSent) {
      // Storage failed before the first byte (e.g. S3 unavailable): the client gets a proper error.
      for (const h of ['Content-Range', 'ETag', 'Docker-Content-Digest', 'Cache-Control', 'Accept-Ranges']) res.removeHeader(h);
      throw err;
    }
    // Headers are out: the only honest signal left is to cut the connection.
    res.destroy(err as Error);
  }
};

/** Resolves once the socket has taken the chunk, so its buffer may be reused. */
function writeChunk(res: Response, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (res.destroyed) {
      reject(new Error('client went away'));
      return;
    }
    const onClose = () => reject(new Error('client went away'));
    res.once('close', onClose);
    res.write(chunk, (err) => {
      res.removeListener('close', onClose);
      if (err) reject(err);
      else resolve();
    });
  });
}

export const remove: Handler = async (ctx, _req, res, { name, arg }) => {
  await deleteBlob(ctx, name, parseDigest(arg));
  res.status(202).setHeader('Content-Length', 0);
  res.end();
};
