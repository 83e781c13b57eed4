// Requests for the token endpoint, the admin API and no endpoint at all, and the
// Authorization header every request may carry.
import { encodeText, oddBytes, oddQueryValue, oddText, randomWord } from './garbage.ts';
import type { Rng } from './prng.ts';
import { query, request, type FuzzRequest, type Header } from './request.ts';
import type { World } from './world.ts';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

function scope(rng: Rng, world: World): string {
  return rng.weighted<() => string>([
    [5, () => `repository:${rng.pick(world.repos)}:${rng.pick(['pull', 'push', 'pull,push', 'delete', '*', ''])}`],
    [1, () => 'registry:catalog:*'],
    [2, () => encodeText(rng.pick([`repository:${oddText(rng)}:pull`, oddText(rng), 'repository::', ':::', `repository:a:b:c:${oddText(rng)}`]))],
  ])();
}

export function tokenGet(rng: Rng, world: World): FuzzRequest {
  const pairs: Array<[string, string | null]> = [
    ['service', rng.chance(0.8) ? 'bollard' : oddQueryValue(rng)],
    ['scope', scope(rng, world)],
    ['scope', rng.chance(0.3) ? scope(rng, world) : null],
    ['account', rng.chance(0.3) ? rng.pick(['admin', oddQueryValue(rng)]) : null],
    ['offline_token', rng.chance(0.3) ? rng.pick(['true', 'false', oddQueryValue(rng)]) : null],
    ['client_id', rng.chance(0.2) ? oddQueryValue(rng) : null],
  ];
  const req = request('GET token', 'GET', `/token${query(rng, pairs)}`);
  req.headers.push(...credentialHeader(rng));
  return req;
}

export function tokenPost(rng: Rng, world: World): FuzzRequest {
  const form = new URLSearchParams();
  form.set('grant_type', rng.pick(['password', 'refresh_token', 'client_credentials', oddText(rng)]));
  if (rng.chance(0.7)) form.set('username', rng.pick(['admin', 'robot$x', oddText(rng), '']));
  if (rng.chance(0.7)) form.set('password', rng.pick(['wrong', oddText(rng), '']));
  if (rng.chance(0.4)) form.set('refresh_token', rng.pick(['a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.', oddText(rng), randomWord(rng, 200)]));
  if (rng.chance(0.5)) form.set('scope', scope(rng, world));
  form.set('service', 'bollard');
  if (rng.chance(0.3)) form.set('access_type', 'offline');
  let body = Buffer.from(form.toString(), 'utf8');
  if (rng.chance(0.1)) body = Buffer.concat([body, Buffer.from('&'), oddBytes(rng), Buffer.from('=%ZZ')]);
  if (rng.chance(0.03)) body = Buffer.from(`a=${'x'.repeat(20_000)}`); // over the form's 16 KiB limit
  const contentType = rng.weighted<string>([
    [8, 'application/x-www-form-urlencoded'],
    [1, 'application/x-www-form-urlencoded; charset=utf-16'],
    [1, 'application/x-www-form-urlencoded; charset=nope'],
    [1, 'application/json'],
    [1, oddText(rng)],
  ]);
  const req = request('POST token', 'POST', `/token${rng.chance(0.1) ? query(rng, [['scope', scope(rng, world)]]) : ''}`, { body });
  req.headers.push(['Content-Type', Buffer.from(contentType, 'utf8')]);
  if (rng.chance(0.05)) req.headers.push(['Content-Encoding', rng.pick(['gzip', 'deflate', 'br', 'nope'])]);
  return req;
}

export function adminEvents(rng: Rng, world: World): FuzzRequest {
  const pairs: Array<[string, string | null]> = [
    ['since', rng.weighted<string | null>([[4, null], [2, '0-0'], [1, `${rng.int(0, 99999)}-${rng.int(0, 99999)}`], [1, '99999999999999999999-1'], [2, oddQueryValue(rng)]])],
    ['limit', rng.weighted<string | null>([[4, null], [3, String(rng.int(0, 20))], [1, rng.pick(['-1', '1e3', '9999999999', ''])]])],
    ['repository', rng.weighted<string | null>([[5, null], [3, rng.pick(world.repos)], [2, oddQueryValue(rng)]])],
  ];
  const method = rng.chance(0.9) ? 'GET' : rng.pick(['POST', 'DELETE', 'HEAD']);
  return request(`${method} admin events`, method, `/admin/events${query(rng, pairs)}`);
}

export function garbage(rng: Rng): FuzzRequest {
  const method = rng.pick(['GET', 'POST', 'PUT', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND', 'get', 'BREW', 'M-SEARCH', 'GE\u0000T', 'X'.repeat(100)]);
  const target = rng.pick([
    '*',
    'http://127.0.0.1/v2/',
    'http://[/v2/',
    'http://x:99999/v2/_catalog',
    '/v2/../../etc/passwd',
    '/%2e%2e/%2e%2e/',
    '/v2/_catalog/../_catalog',
    '/admin',
    '/admin/',
    '/token/',
    '//v2//',
    `/${encodeText(oddText(rng))}`,
    '/favicon.ico',
    '/v2/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/manifests/x',
    '/v1/_ping',
  ]);
  return request('garbage', method, target);
}

/** A credential header on the token endpoint: none, Basic (wrong, malformed or odd), Bearer junk. */
function credentialHeader(rng: Rng): Header[] {
  return rng.weighted<() => Header[]>([
    [3, () => []],
    [3, () => [['Authorization', basic(rng.pick(['admin', 'nobody', 'robot$ci']), 'wrong-password')]]],
    [2, () => [['Authorization', basic(oddText(rng), oddText(rng))]]],
    [2, () => [['Authorization', Buffer.concat([Buffer.from(rng.pick(['Basic ', 'Bearer ', 'basic', 'Digest x=', ''])), oddBytes(rng), Buffer.from(randomWord(rng))])]]],
  ])();
}

/**
 * The Authorization header of a /v2 or admin request: in token mode mostly the
 * run's token (else little would get past the auth layer), otherwise junk now and then.
 */
export function authorization(rng: Rng, world: World): Header[] {
  if (world.token === null) return rng.chance(0.03) ? credentialHeader(rng) : [];
  return rng.weighted<() => Header[]>([
    [14, () => [['Authorization', `Bearer ${world.token}`]]],
    [2, () => []],
    [1, () => [['Authorization', `Bearer ${rng.pick(['a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.', randomWord(rng, 40)])}`]]],
    [1, () => credentialHeader(rng)],
    [1, () => [['Authorization', `Bearer ${(world.token as string).slice(0, -3)}abc`]]],
  ])();
}
