// Revalidation of a cached tag past its TTL: does the tag still name the manifest
// Bollard holds? Where the upstream allows pushes, Bollard's tag may also be a
// push of its own, which the upstream must never overwrite. Nothing records which
// (a push and a cached fetch commit the same rows), so the upstream is asked: a
// tag whose manifest the upstream does not hold by digest, or that the upstream
// does not have at all, was pushed here, and wins (docs/proxy.md, "Pushes").
import { RegistryError } from '../../errors/codes.ts';
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST } from '../content/media-types.ts';
import { upstreamStatusError, type UpstreamClient } from './upstream.ts';

export const ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(', ');

/**
 * True when the cached manifest `digest` is still what the tag names: the upstream
 * names the same digest, or (pushes allowed) the tag is local. False: fetch the
 * upstream's. Rejects, as the upstream failed, when it could not be asked.
 */
export async function keepsCached(client: UpstreamClient, remote: string, tag: string, digest: string): Promise<boolean> {
  const pushes = client.options.pushes === true;
  let named: string | null;
  try {
    named = await upstreamDigest(client, remote, tag);
  } catch (err) {
    // the upstream lacks the tag (or refuses the name): only a push can have made ours
    if (pushes && err instanceof RegistryError && (err.code === 'MANIFEST_UNKNOWN' || err.code === 'DENIED')) return true;
    throw err;
  }
  if (named === digest) return true;
  return pushes && !(await upstreamHolds(client, remote, digest));
}

/** The digest the upstream's tag names now (HEAD); null when it does not say. */
async function upstreamDigest(client: UpstreamClient, remote: string, tag: string): Promise<string | null> {
  const res = await client.request('HEAD', remote, `manifests/${tag}`, ACCEPT);
  if (res.status !== 200) throw upstreamStatusError(client.options.prefix, res.status, res.headers, 'MANIFEST_UNKNOWN');
  return res.headers.get('docker-content-digest');
}

/** Whether the upstream holds the manifest by digest (HEAD); its failures are thrown as in upstreamDigest. */
async function upstreamHolds(client: UpstreamClient, remote: string, digest: string): Promise<boolean> {
  const res = await client.request('HEAD', remote, `manifests/${digest}`, ACCEPT);
  if (res.status === 404) return false;
  if (res.status !== 200) throw upstreamStatusError(client.options.prefix, res.status, res.headers, 'MANIFEST_UNKNOWN');
  return true;
}
