// What a pushed manifest references, resolved inside its commit: the repository's
// blobs and child manifests it lists, each locked, each checked against the declared
// size. With sparse manifests on, content the repository lacks is returned as absent
// references instead of refused (docs/architecture.md, "Sparse manifests").
import type { CommonQueryMethods } from 'slonik';
import * as q from '../../db/manifests.ts';
import type { AbsentRef } from '../../db/manifest-absent.ts';
import { RegistryError } from '../../errors/codes.ts';
import type { Descriptor } from './manifest-parse.ts';

export interface Resolved {
  ids: number[];
  absent: AbsentRef[];
}

function uniqueByDigest(descriptors: Descriptor[]): Descriptor[] {
  const seen = new Map<string, Descriptor>();
  for (const d of descriptors) {
    const prior = seen.get(d.digest.text);
    if (prior && prior.size !== d.size) {
      throw new RegistryError('MANIFEST_INVALID', `descriptors for ${d.digest.text} disagree on its size`);
    }
    seen.set(d.digest.text, d);
  }
  return [...seen.values()];
}

/** Locks the repository's links to the listed blobs; each must exist with the declared size. */
export async function resolveBlobs(tx: CommonQueryMethods, repositoryId: number, descriptors: Descriptor[], sparse: boolean): Promise<Resolved> {
  const wanted = uniqueByDigest(descriptors);
  const hexes = { sha256: [] as Buffer[], sha512: [] as Buffer[] };
  for (const d of wanted) hexes[d.digest.algorithm].push(Buffer.from(d.digest.hex, 'hex'));
  const rows = await q.lockLinkedBlobs(tx, repositoryId, hexes);
  const found = new Map<string, { id: number; size: number }>();
  for (const r of rows) {
    if (r.sha256) found.set(`sha256:${r.sha256}`, { id: r.blob_id, size: r.size });
    if (r.sha512) found.set(`sha512:${r.sha512}`, { id: r.blob_id, size: r.size });
  }
  return checkAll(wanted, found, 'blob', sparse);
}

/** Locks the repository's child manifests the index lists, by either of their names. */
export async function resolveChildren(tx: CommonQueryMethods, repositoryId: number, descriptors: Descriptor[], sparse: boolean): Promise<Resolved> {
  const wanted = uniqueByDigest(descriptors);
  const rows = await q.lockManifestsByDigest(tx, repositoryId, wanted.map((d) => d.digest.text));
  const found = new Map<string, { id: number; size: number }>();
  for (const r of rows) {
    found.set(r.digest, r);
    found.set(r.digest_sha512, r);
  }
  return checkAll(wanted, found, 'manifest', sparse);
}

function checkAll(wanted: Descriptor[], found: Map<string, { id: number; size: number }>, what: 'blob' | 'manifest', sparse: boolean): Resolved {
  const ids = new Set<number>();
  const absent: AbsentRef[] = [];
  for (const d of wanted) {
    const hit = found.get(d.digest.text);
    if (!hit && sparse) {
      absent.push({ digest: d.digest.text, size: d.size, kind: what });
      continue;
    }
    if (!hit) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', { digest: d.digest.text, reason: `${what} not found in repository` });
    if (hit.size !== d.size) {
      throw new RegistryError('MANIFEST_INVALID', `${what} ${d.digest.text} has size ${hit.size}, the manifest says ${d.size}`);
    }
    ids.add(hit.id);
  }
  return { ids: [...ids].sort((a, b) => a - b), absent };
}
