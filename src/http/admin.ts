// The admin API: GET /admin/events, the event journal read by cursor. Open like
// the rest with BOLLARD_AUTH=none; with token auth only a superuser (a subject
// granted every action on `**`) may read it, by Bearer token or Basic credentials.
import { Router, type Request, type Response } from 'express';
import type { DatabasePool } from 'slonik';
import { authenticate, type Auth } from '../auth/service.ts';
import { subjectOfClaim, type Subject } from '../auth/permissions.ts';
import { isSuperuser } from '../auth/superuser.ts';
import { verifyAccessToken } from '../auth/tokens.ts';
import { RegistryError } from '../errors/codes.ts';
import { DEFAULT_EVENT_LIMIT, eventPage, MAX_EVENT_LIMIT, parseCursor } from '../registry/events/client-view.ts';
import { parseRepoName } from '../shared/names.ts';
import { basicCredentials } from './credentials.ts';
import { queryString } from './params.ts';
import { clientOf } from './token.ts';

export function adminRouter(pool: DatabasePool, auth: Auth | undefined): Router {
  const router = Router();
  router.use('/admin', async (req, _res, next) => {
    if (auth) await requireSuperuser(auth, req);
    next();
  });
  router.get('/admin/events', async (req, res) => {
    const since = nonEmpty(queryString(req, 'since'));
    const repository = nonEmpty(queryString(req, 'repository'));
    const limit = parseLimit(queryString(req, 'limit'));
    const page = await eventPage(pool, {
      since: since === null ? null : parseCursor(since),
      repository: repository === null ? null : parseRepoName(repository),
      limit,
    });
    if (page.more) linkNext(req, res, page.next, limit);
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).json({ events: page.events, next: page.next });
  });
  return router;
}

function nonEmpty(v: string | null): string | null {
  return v === null || v === '' ? null : v;
}

function parseLimit(v: string | null): number {
  if (v === null || v === '') return DEFAULT_EVENT_LIMIT;
  if (!/^\d{1,9}$/.test(v)) throw new RegistryError('PAGINATION_NUMBER_INVALID', `limit must be a non-negative integer, got "${v.slice(0, 64)}"`);
  return Math.min(Number(v), MAX_EVENT_LIMIT);
}

/** The Link header of the OCI listings, pointing at the page after this one. */
function linkNext(req: Request, res: Response, next: string, limit: number): void {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query)) if (k !== 'since' && k !== 'limit' && typeof v === 'string') params.set(k, v);
  params.set('limit', String(limit));
  params.set('since', next);
  res.setHeader('Link', `<${req.baseUrl}${req.path}?${params.toString()}>; rel="next"`);
}

async function requireSuperuser(auth: Auth, req: Request): Promise<void> {
  const subject = await subjectOf(auth, req);
  if (subject === null) {
    throw new RegistryError('UNAUTHORIZED', 'the admin API needs the credentials of a superuser', { 'WWW-Authenticate': 'Basic realm="bollard-admin"' });
  }
  if (!(await isSuperuser(auth.pool, subject))) {
    throw new RegistryError('DENIED', 'the admin API is reserved to subjects granted pull,push,delete on **');
  }
}

/** Who the Authorization header names; null when absent or invalid. */
async function subjectOf(auth: Auth, req: Request): Promise<Subject | null> {
  const header = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) {
    const verified = await verifyAccessToken(auth.tokens, bearer[1] as string);
    return verified === null ? null : subjectOfClaim(verified.sub);
  }
  const login = basicCredentials(header);
  return login === null ? null : authenticate(auth, login.username, login.password, clientOf(req));
}
