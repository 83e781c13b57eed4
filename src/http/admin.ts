// The admin API: GET /admin/events, the event journal read by cursor. Open like
// the rest with BOLLARD_AUTH=none; with token auth only a superuser may read it,
// as its route says (http/routes.ts).
import { RegistryError } from '../errors/codes.ts';
import { DEFAULT_EVENT_LIMIT, eventPage, MAX_EVENT_LIMIT, parseCursor } from '../registry/events/client-view.ts';
import { parseRepoName } from '../shared/names.ts';
import { linkNext } from './link.ts';
import { queryString } from './params.ts';
import type { ServiceHandler } from './route.ts';

export const events: ServiceHandler = async ({ ctx }, req, res) => {
  const since = nonEmpty(queryString(req, 'since'));
  const repository = nonEmpty(queryString(req, 'repository'));
  const limit = parseLimit(queryString(req, 'limit'));
  const page = await eventPage(ctx.pool, {
    since: since === null ? null : parseCursor(since),
    repository: repository === null ? null : parseRepoName(repository),
    limit,
  });
  if (page.more) linkNext(req, res, { cursor: ['since', page.next], size: ['limit', limit] });
  res.setHeader('Cache-Control', 'no-store');
  res.status(200).json({ events: page.events, next: page.next });
};

function nonEmpty(v: string | null): string | null {
  return v === null || v === '' ? null : v;
}

function parseLimit(v: string | null): number {
  if (v === null || v === '') return DEFAULT_EVENT_LIMIT;
  if (!/^\d{1,9}$/.test(v)) throw new RegistryError('PAGINATION_NUMBER_INVALID', `limit must be a non-negative integer, got "${v.slice(0, 64)}"`);
  return Math.min(Number(v), MAX_EVENT_LIMIT);
}

