// The web UI's JSON API (/ui/api/...). Its routes carry the access 'session'
// (http/routes.ts): who asks is the UI session's subject. Listings are cut to what
// that subject may pull, as the catalog is; a repository it may not pull answers
// 404 NAME_UNKNOWN, so its existence is not revealed; deletes go through the same
// registry function as the OCI DELETE route and need the same `delete` action, so
// immutable tags and referenced manifests are refused the same way. Repository
// names travel in the query (?name=): they hold slashes.
import type { Request } from 'express';
import type { Grant } from '../auth/authorize.ts';
import { allowedActions, rulesFor } from '../auth/permissions.ts';
import type { Action } from '../auth/scope.ts';
import { isSuperuser } from '../auth/superuser.ts';
import { parseDigest } from '../digest/digest.ts';
import { RegistryError } from '../errors/codes.ts';
import { deleteManifest } from '../registry/content/manifests.ts';
import { manifestView, recentEvents, repositoryPage, repositoryView, storageView } from '../registry/ui/read-model.ts';
import { isValidTag, parseRepoName, type RepoName, type Tag } from '../shared/names.ts';
import { isStorableText } from '../registry/text.ts';
import { queryString } from './params.ts';
import type { ServiceHandler, Services } from './route.ts';
import { checkCsrf } from './ui-session.ts';

const PAGE_DEFAULT = 50;
const PAGE_MAX = 200;
const SEARCH_MAX = 255;
const EVENT_PAGE = 100;
const EVENT_PAGE_MAX = 500;

/** The actions the request's subject has on the repository; every one with auth off. */
async function actionsOn(s: Services, grant: Grant, name: RepoName): Promise<Set<Action>> {
  if (s.auth === null) return new Set(['pull', 'push', 'delete']);
  if (grant.subject === null) return new Set();
  return allowedActions(await rulesFor(s.auth.pool, grant.subject), name);
}

/** The repository named by ?name=, when the subject may pull it; otherwise as unknown as a repository that does not exist. */
async function readable(s: Services, req: Request, grant: Grant): Promise<{ name: RepoName; actions: Set<Action> }> {
  const raw = queryString(req, 'name');
  if (raw === null || raw === '') throw new RegistryError('NAME_INVALID', 'the query parameter "name" (a repository name) is required');
  const name = parseRepoName(raw);
  const actions = await actionsOn(s, grant, name);
  if (!actions.has('pull')) throw new RegistryError('NAME_UNKNOWN', { name });
  return { name, actions };
}

function intParam(req: Request, key: string, fallback: number, max: number): number {
  const v = queryString(req, key);
  if (v === null || v === '') return fallback;
  if (!/^\d{1,9}$/.test(v) || Number(v) < 1) throw new RegistryError('PAGINATION_NUMBER_INVALID', `${key} must be a positive integer, got "${v.slice(0, 64)}"`);
  return Math.min(Number(v), max);
}

/** A free-text parameter: bounded, and only text PostgreSQL can hold (no NUL, no lone surrogate). */
function textParam(req: Request, key: string): string | null {
  const v = queryString(req, key);
  if (v === null) return null;
  if (v.length > SEARCH_MAX) throw new RegistryError('NAME_INVALID', `${key} is longer than ${SEARCH_MAX} characters`);
  if (!isStorableText(v)) throw new RegistryError('NAME_INVALID', `${key} holds characters no repository name can`);
  return v;
}

function send(res: Parameters<ServiceHandler>[2], body: unknown): void {
  res.setHeader('Cache-Control', 'no-store');
  res.status(200).json(body);
}

/** GET /ui/api/repositories?q=&last=&n=: a page of repository summaries. */
export const repositories: ServiceHandler = async (s, req, res, grant) => {
  const search = textParam(req, 'q') ?? '';
  const last = textParam(req, 'last');
  const limit = intParam(req, 'n', PAGE_DEFAULT, PAGE_MAX);
  // with auth off everything is visible; otherwise exactly what the catalog would list
  const visible = s.auth === null ? null : grant.pullable;
  send(res, await repositoryPage(s.ctx, { search, last: last === '' ? null : last, limit, visible }));
};

/** GET /ui/api/repository?name=: its tags, the policies that govern it, what the subject may do there. */
export const repository: ServiceHandler = async (s, req, res, grant) => {
  const { name, actions } = await readable(s, req, grant);
  const view = await repositoryView(s.ctx, name);
  send(res, { ...view, canDelete: actions.has('delete') && s.ctx.options.deleteEnabled });
};

/** GET /ui/api/manifest?name=&digest= (or &tag=): a manifest taken apart. */
export const manifest: ServiceHandler = async (s, req, res, grant) => {
  const { name, actions } = await readable(s, req, grant);
  const digest = queryString(req, 'digest');
  const tag = queryString(req, 'tag');
  if (!digest && !tag) throw new RegistryError('MANIFEST_UNKNOWN', 'give the query parameter "digest" or "tag"');
  if (!digest && tag !== null && !isValidTag(tag)) throw new RegistryError('TAG_INVALID', 'the query parameter "tag" must be a valid tag');
  const view = await manifestView(s.ctx, name, digest ? { digest } : { tag: tag as string });
  send(res, { ...view, canDelete: actions.has('delete') && s.ctx.options.deleteEnabled });
};

/** GET /ui/api/events?name=&before=&limit=: the repository's event journal, newest first. */
export const events: ServiceHandler = async (s, req, res, grant) => {
  const { name } = await readable(s, req, grant);
  const before = queryString(req, 'before');
  if (before !== null && before !== '' && !/^\d{1,15}$/.test(before)) throw new RegistryError('PAGINATION_NUMBER_INVALID', 'before must be an event id');
  const limit = intParam(req, 'limit', EVENT_PAGE, EVENT_PAGE_MAX);
  const rows = await recentEvents(s.ctx, name, before ? Number(before) : null, limit + 1);
  const page = rows.slice(0, limit);
  send(res, { events: page, next: rows.length > limit ? String(page[page.length - 1]?.id) : null });
};

/** GET /ui/api/storage: bytes stored against bytes referenced, GC backlog. Registry-wide, so superusers only under auth. */
export const storage: ServiceHandler = async (s, _req, res, grant) => {
  if (s.auth !== null) {
    if (grant.subject === null || grant.subject.kind === 'anonymous') throw new RegistryError('UNAUTHORIZED', 'sign in to see storage figures');
    if (!(await isSuperuser(s.auth.pool, grant.subject))) throw new RegistryError('DENIED', 'storage figures cover every repository: they are shown to superusers only');
  }
  send(res, await storageView(s.ctx));
};

async function deletable(s: Services, req: Request, grant: Grant): Promise<RepoName> {
  checkCsrf(req);
  const { name, actions } = await readable(s, req, grant);
  if (!actions.has('delete')) throw new RegistryError('DENIED', `you may not delete in ${name}`);
  return name;
}

/** DELETE /ui/api/tag?name=&tag=: as DELETE /v2/<name>/manifests/<tag>. */
export const deleteTag: ServiceHandler = async (s, req, res, grant) => {
  const name = await deletable(s, req, grant);
  const tag = queryString(req, 'tag') ?? '';
  if (!isValidTag(tag)) throw new RegistryError('TAG_INVALID', 'the query parameter "tag" must be a valid tag');
  await deleteManifest(s.ctx, name, { kind: 'tag', tag: tag as Tag });
  send(res, { deleted: { tag } });
};

/** DELETE /ui/api/manifest?name=&digest=: as DELETE /v2/<name>/manifests/<digest>. */
export const deleteDigest: ServiceHandler = async (s, req, res, grant) => {
  const name = await deletable(s, req, grant);
  const digest = parseDigest(queryString(req, 'digest') ?? '');
  await deleteManifest(s.ctx, name, { kind: 'digest', digest });
  send(res, { deleted: { digest: digest.text } });
};
