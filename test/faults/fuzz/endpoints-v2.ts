// Requests for the read side and manifests of /v2: base, catalog, tags, manifests,
// blobs, referrers. Each is mostly well-formed, with hostile values mixed in.
import { oddQueryValue, oddText, randomWord } from './garbage.ts';
import { sha256 } from './honest.ts';
import { manifestBody } from './manifests.ts';
import type { Rng } from './prng.ts';
import { digestRef, manifestRef, pageSize, query, repoName, request, type FuzzRequest } from './request.ts';
import { SIG_TYPE, type World } from './world.ts';

export function base(rng: Rng): FuzzRequest {
  const method = rng.weighted<string>([[6, 'GET'], [2, 'HEAD'], [1, rng.pick(['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])]]);
  return request(`${method} base`, method, rng.pick(['/v2/', '/v2', '/V2/', '/v2//', '/v2/?x=1']));
}

export function catalog(rng: Rng, world: World): FuzzRequest {
  const last = rng.weighted<string | null>([[4, null], [3, rng.pick(world.repos)], [1, 'a'], [2, oddQueryValue(rng)]]);
  return request('GET catalog', 'GET', `/v2/_catalog${query(rng, [['n', pageSize(rng)], ['last', last]])}`);
}

export function tags(rng: Rng, world: World): FuzzRequest {
  const method = rng.chance(0.85) ? 'GET' : 'HEAD';
  const last = rng.weighted<string | null>([[4, null], [3, rng.pick(world.tags)], [2, oddQueryValue(rng)]]);
  return request(`${method} tags`, method, `/v2/${repoName(rng, world)}/tags/list${query(rng, [['n', pageSize(rng)], ['last', last]])}`);
}

export function getManifest(rng: Rng, world: World): FuzzRequest {
  const repo = repoName(rng, world);
  const method = rng.chance(0.7) ? 'GET' : 'HEAD';
  const req = request(`${method} manifest`, method, `/v2/${repo}/manifests/${manifestRef(rng, world, repo)}`);
  const accept = rng.weighted<string | null>([
    [4, null],
    [3, 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json'],
    [1, 'application/vnd.docker.distribution.manifest.v2+json'],
    [1, '*/*'],
    [1, oddText(rng)],
  ]);
  if (accept !== null) req.headers.push(['Accept', Buffer.from(accept, 'utf8')]);
  return req;
}

export function putManifest(rng: Rng, world: World): FuzzRequest {
  const repo = rng.chance(0.9) ? rng.pick(world.repos) : repoName(rng, world);
  const m = manifestBody(rng, world, repo);
  const ref = rng.weighted<() => string>([
    [5, () => `t${rng.int(0, 40)}`],
    [2, () => sha256(m.body)], // its own digest
    [2, () => manifestRef(rng, world, repo)],
  ])();
  const req = request('PUT manifest', 'PUT', `/v2/${repo}/manifests/${ref}`, { body: m.body, notes: [`manifest: ${m.what}`] });
  req.headers.push(['Content-Type', Buffer.from(m.contentType, 'utf8')]);
  return req;
}

export function deleteManifest(rng: Rng, world: World): FuzzRequest {
  const repo = repoName(rng, world);
  // the seeded v1/multi stay mostly: deleting them would starve the rest of the run
  const ref = rng.chance(0.7) ? `t${rng.int(0, 40)}` : manifestRef(rng, world, repo);
  return request('DELETE manifest', 'DELETE', `/v2/${repo}/manifests/${ref}`);
}

export function getBlob(rng: Rng, world: World): FuzzRequest {
  const repo = repoName(rng, world);
  const method = rng.chance(0.7) ? 'GET' : 'HEAD';
  const req = request(`${method} blob`, method, `/v2/${repo}/blobs/${digestRef(rng, world.blobsOf(repo).map((b) => b.digest))}`);
  const range = rng.weighted<string | null>([
    [6, null],
    [1, `bytes=0-${rng.int(0, 100)}`],
    [1, `bytes=-${rng.int(0, 100)}`],
    [1, `bytes=${rng.int(0, 5000)}-`],
    [1, rng.pick(['bytes=99999999999999999999-', 'bytes=10-5', 'bytes=0-0,2-3', 'bytes=', 'items=0-1', 'bytes=-', oddText(rng)])],
  ]);
  if (range !== null) req.headers.push(['Range', Buffer.from(range, 'utf8')]);
  return req;
}

export function deleteBlob(rng: Rng, world: World): FuzzRequest {
  const repo = repoName(rng, world);
  // unknown digests mostly: deleting the seeded layers would break the manifests aimed at them
  const digest = rng.chance(0.8) ? `sha256:${rng.hex(64)}` : digestRef(rng, []);
  return request('DELETE blob', 'DELETE', `/v2/${repo}/blobs/${digest}`);
}

export function referrers(rng: Rng, world: World): FuzzRequest {
  const repo = repoName(rng, world);
  const subject = digestRef(rng, world.manifestsOf(repo).map((m) => m.digest));
  const artifactType = rng.weighted<string | null>([[5, null], [3, SIG_TYPE], [1, `application/vnd.${randomWord(rng)}`], [2, oddQueryValue(rng)]]);
  const last = rng.weighted<string | null>([[6, null], [2, digestRef(rng, [])], [1, oddQueryValue(rng)]]);
  return request('GET referrers', 'GET', `/v2/${repo}/referrers/${subject}${query(rng, [['artifactType', artifactType], ['n', pageSize(rng)], ['last', last]])}`);
}
