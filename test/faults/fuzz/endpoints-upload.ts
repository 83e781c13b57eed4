// Requests for blob uploads: open a session, upload whole, mount, send a chunk,
// finish, ask the status, cancel. Sessions come from the world, one request at a time.
import { encodeText, oddText } from './garbage.ts';
import { sha256 } from './honest.ts';
import type { Rng } from './prng.ts';
import { digestRef, query, repoName, request, type FuzzRequest } from './request.ts';
import type { Session, World } from './world.ts';

/** A blob body: mostly small, now and then empty or a few hundred KiB. */
function blobBody(rng: Rng): Buffer {
  const size = rng.weighted<number>([[2, 0], [10, rng.int(1, 2048)], [4, rng.int(2049, 65_536)], [1, rng.int(65_537, 600_000)]]);
  return rng.bytes(size);
}

function octetStream(rng: Rng): [string, string | Buffer] {
  return ['Content-Type', rng.chance(0.9) ? 'application/octet-stream' : Buffer.from(oddText(rng), 'utf8')];
}

export function startUpload(rng: Rng, world: World): FuzzRequest {
  const repo = repoName(rng, world);
  const target = `/v2/${repo}/blobs/uploads/${rng.chance(0.9) ? '' : rng.pick(['?', '?digest=', '?mount=', `?${encodeText(oddText(rng))}`])}`;
  return request('POST upload start', 'POST', target, { notes: [`repo ${repo}`] });
}

export function monolithic(rng: Rng, world: World): FuzzRequest {
  const repo = repoName(rng, world);
  const body = blobBody(rng);
  const digest = rng.weighted<() => string>([[6, () => sha256(body)], [2, () => `sha256:${rng.hex(64)}`], [2, () => digestRef(rng, [])]])();
  const req = request('POST monolithic upload', 'POST', `/v2/${repo}/blobs/uploads/${query(rng, [['digest', digest]])}`, { body });
  req.headers.push(octetStream(rng));
  return req;
}

export function mount(rng: Rng, world: World): FuzzRequest {
  const repo = repoName(rng, world);
  const from = rng.chance(0.8) ? rng.pick(world.repos) : repoName(rng, world);
  const digest = digestRef(rng, world.blobsOf(from).map((b) => b.digest));
  return request('POST mount', 'POST', `/v2/${repo}/blobs/uploads/${query(rng, [['mount', digest], ['from', rng.chance(0.9) ? from : null]])}`);
}

/** The session a request works on: one of the world's (lent, at its Location), a made-up id, or a malformed one. */
function sessionTarget(rng: Rng, world: World): { session: Session | null; target: string } {
  const lent = rng.chance(0.8) ? world.checkout(rng) : null;
  if (lent && rng.chance(0.95)) return { session: lent, target: lent.location };
  if (lent) return { session: lent, target: `/v2/${repoName(rng, world)}/blobs/uploads/${lent.id}` };
  const id = rng.weighted<() => string>([
    [3, () => `${rng.hex(8)}-${rng.hex(4)}-4${rng.hex(3)}-8${rng.hex(3)}-${rng.hex(12)}`],
    [2, () => rng.pick(['x', '..', '00000000-0000-0000-0000-00000000000g', encodeText(oddText(rng)), '%00', 'a'.repeat(300)])],
  ])();
  return { session: null, target: `/v2/${repoName(rng, world)}/blobs/uploads/${id}` };
}

/** The target with more query parameters (`q` as query() makes it: '' or '?...'). */
function withParams(target: string, q: string): string {
  if (q === '') return target;
  return target.includes('?') ? `${target}&${q.slice(1)}` : `${target}${q}`;
}

export function patchChunk(rng: Rng, world: World): FuzzRequest {
  const { session, target } = sessionTarget(rng, world);
  const body = blobBody(rng);
  const req = request('PATCH upload', 'PATCH', target, { body, session });
  req.headers.push(octetStream(rng));
  const offset = session?.data?.length ?? 0;
  const range = rng.weighted<() => string | null>([
    [4, () => null],
    [4, () => (body.length > 0 ? `${offset}-${offset + body.length - 1}` : null)],
    [2, () => rng.pick([`${offset + 1}-${offset + body.length}`, '5-2', 'bytes=0-', '0-99999999999999999999', '-1-3', 'abc', `bytes ${offset}-${offset + body.length - 1}/*`, oddText(rng)])],
  ])();
  if (range !== null) req.headers.push(['Content-Range', Buffer.from(range, 'utf8')]);
  return req;
}

export function finishUpload(rng: Rng, world: World): FuzzRequest {
  const { session, target } = sessionTarget(rng, world);
  const last = rng.chance(0.4) ? blobBody(rng) : Buffer.alloc(0);
  const whole = session?.data ? Buffer.concat([session.data, last]) : null;
  const digest = rng.weighted<() => string | null>([
    [5, () => (whole ? sha256(whole) : `sha256:${rng.hex(64)}`)],
    [2, () => `sha256:${rng.hex(64)}`],
    [1, () => null],
    [2, () => digestRef(rng, [])],
  ])();
  const req = request('PUT upload finish', 'PUT', withParams(target, query(rng, [['digest', digest]])), { body: last, session });
  if (last.length > 0) req.headers.push(octetStream(rng));
  return req;
}

export function uploadStatus(rng: Rng, world: World): FuzzRequest {
  const { session, target } = sessionTarget(rng, world);
  return request('GET upload status', 'GET', target, { session });
}

export function cancelUpload(rng: Rng, world: World): FuzzRequest {
  const { session, target } = sessionTarget(rng, world);
  return request('DELETE upload', 'DELETE', target, { session });
}
