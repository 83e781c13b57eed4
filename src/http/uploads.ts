import type { Response } from 'express';
import { RegistryError } from '../errors/codes.ts';
import { mountBlob } from '../registry/content/blobs.ts';
import { parseRepoName, type RepoName } from '../shared/names.ts';
import * as uploads from '../registry/push/uploads.ts';
import type { Digest } from '../digest/digest.ts';
import { chunkRange, hasBody, queryDigest, queryString } from './params.ts';
import type { Handler } from './route.ts';

function sessionLocation(name: RepoName, id: string): string {
  return `/v2/${name}/blobs/uploads/${id}`;
}

function sendSession(res: Response, name: RepoName, s: uploads.SessionInfo, status: 202 | 204): void {
  res.status(status);
  res.setHeader('Location', sessionLocation(name, s.id));
  res.setHeader('Docker-Upload-UUID', s.id);
  res.setHeader('Range', `0-${Math.max(s.offset - 1, 0)}`);
  res.setHeader('Content-Length', 0);
  res.end();
}

function sendCreated(res: Response, name: RepoName, digest: Digest): void {
  res.status(201);
  res.setHeader('Location', `/v2/${name}/blobs/${digest.text}`);
  res.setHeader('Docker-Content-Digest', digest.text);
  res.setHeader('Content-Length', 0);
  res.end();
}

/** POST: open a session, mount (?mount=&from=), or upload whole (?digest= with a body). */
export const start: Handler = async (ctx, req, res, { name, grant }) => {
  const fromText = queryString(req, 'from');
  const crossRepository = fromText !== null && fromText !== '';
  // a mount from a repository the caller may not read is no mount at all: the request goes on as if it asked none
  const mount = crossRepository && !grant.mountFrom ? null : queryString(req, 'mount');
  if (mount !== null) {
    const digest = queryDigest(req, 'mount') as Digest;
    const from = crossRepository ? parseRepoName(fromText) : null;
    if (await mountBlob(ctx, name, digest, from, grant.pullable)) {
      req.resume();
      sendCreated(res, name, digest);
      return;
    }
  }
  const digest = queryDigest(req);
  if (digest && mount === null) {
    await uploads.monolithicUpload(ctx, name, digest, uploads.requestBody(req));
    sendCreated(res, name, digest);
    return;
  }
  req.resume();
  sendSession(res, name, await uploads.startUpload(ctx, name), 202);
};

export const status: Handler = async (ctx, _req, res, { name, arg }) => {
  sendSession(res, name, await uploads.uploadStatus(ctx, name, arg), 204);
};

export const patch: Handler = async (ctx, req, res, { name, arg }) => {
  const range = chunkRange(req);
  sendSession(res, name, await uploads.appendChunk(ctx, name, arg, uploads.requestBody(req), range), 202);
};

export const finish: Handler = async (ctx, req, res, { name, arg }) => {
  const digest = queryDigest(req);
  if (!digest) {
    req.resume();
    throw new RegistryError('DIGEST_INVALID', 'the digest query parameter is required to complete an upload');
  }
  const last = hasBody(req) ? { body: uploads.requestBody(req), range: chunkRange(req) } : null;
  if (!last) req.resume();
  await uploads.finishUpload(ctx, name, arg, digest, last);
  sendCreated(res, name, digest);
};

export const cancel: Handler = async (ctx, req, res, { name, arg }) => {
  req.resume();
  await uploads.cancelUpload(ctx, name, arg);
  res.status(204).setHeader('Content-Length', 0);
  res.end();
};

