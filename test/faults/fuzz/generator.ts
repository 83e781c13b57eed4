// Picks the endpoint of each request (every route of the registry, weighted) and
// builds it: endpoint generator, then the Authorization header, then mutations.
import { adminEvents, authorization, garbage, tokenGet, tokenPost } from './endpoints-auth.ts';
import { cancelUpload, finishUpload, monolithic, mount, patchChunk, startUpload, uploadStatus } from './endpoints-upload.ts';
import { base, catalog, deleteBlob, deleteManifest, getBlob, getManifest, putManifest, referrers, tags } from './endpoints-v2.ts';
import { mutate } from './mutate.ts';
import type { Rng } from './prng.ts';
import type { FuzzRequest } from './request.ts';
import type { World } from './world.ts';

type Endpoint = (rng: Rng, world: World) => FuzzRequest;

const ENDPOINTS: ReadonlyArray<readonly [number, Endpoint]> = [
  [3, base],
  [5, catalog],
  [6, tags],
  [10, getManifest],
  [12, putManifest],
  [3, deleteManifest],
  [8, getBlob],
  [2, deleteBlob],
  [8, startUpload],
  [6, monolithic],
  [3, mount],
  [10, patchChunk],
  [6, finishUpload],
  [3, uploadStatus],
  [2, cancelUpload],
  [5, referrers],
  [4, tokenGet],
  [3, tokenPost],
  [3, adminEvents],
  [4, garbage],
];

export function generate(rng: Rng, world: World, mutationRate: number): FuzzRequest {
  // without sessions to aim at, open some
  const endpoint = world.sessionCount < 3 && rng.chance(0.5) ? startUpload : rng.weighted(ENDPOINTS);
  const req = endpoint(rng, world);
  if (!req.label.includes('token')) req.headers.unshift(...authorization(rng, world));
  mutate(rng, req, mutationRate);
  return req;
}
