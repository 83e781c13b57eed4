// What must hold after the database came back: every refcount equals a recount
// from the rows that reference it, every blob row has its bytes in storage, and
// every image a client was told is pushed can be pulled back intact.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createPool, sql } from 'slonik';
import { z } from 'zod';
import { emptyConfig, OCI_MANIFEST, sha256 } from '../support/fixtures.ts';
import { refcountDrift } from '../support/rows.ts';
import type { PushedImage } from './pg-load.ts';

export interface Consistency {
  blobs: number;
  /** refcounts that differ from the recount: blobs (links), links (manifests), manifests (tags, indexes) */
  drift: readonly unknown[];
  /** blob rows whose object is missing from storage, or has another size */
  missingBytes: string[];
}

/**
 * The recount and the storage check, on the server's database and its
 * filesystem storage (<dataDir>/storage, key layout in src/storage/keys.ts).
 */
export async function checkConsistency(databaseUrl: string, dataDir: string): Promise<Consistency> {
  const pool = await createPool(databaseUrl, { maximumPoolSize: 1 });
  try {
    const drift = await refcountDrift(pool);
    const rows = await pool.any(sql.type(z.object({ key: z.string(), size: z.unknown() }))`
      SELECT encode(blake3, 'hex') AS key, size FROM blobs`);
    const missingBytes: string[] = [];
    for (const r of rows) {
      const path = join(dataDir, 'storage', 'blobs', 'blake3', r.key.slice(0, 2), r.key);
      const s = await stat(path).catch(() => null);
      if (!s || s.size !== Number(r.size)) missingBytes.push(`${r.key} (${s ? `${s.size} of ${String(r.size)} bytes` : 'missing'})`);
    }
    return { blobs: rows.length, drift, missingBytes };
  } finally {
    await pool.end();
  }
}

/** Pushes an image (config, layer, manifest); throws unless every step answered 201. */
export async function pushImage(url: string, img: PushedImage): Promise<void> {
  for (const b of [emptyConfig, img.layer]) {
    const r = await fetch(`${url}/v2/${img.repo}/blobs/uploads/?digest=${b.digest}`, { method: 'POST', body: b.data, signal: AbortSignal.timeout(10_000) });
    if (r.status !== 201) throw new Error(`push of ${b.digest} answered ${r.status}: ${await r.text()}`);
  }
  const r = await fetch(`${url}/v2/${img.repo}/manifests/${img.tag}`, {
    method: 'PUT', body: img.manifest.data, headers: { 'Content-Type': OCI_MANIFEST }, signal: AbortSignal.timeout(10_000),
  });
  if (r.status !== 201) throw new Error(`manifest push answered ${r.status}: ${await r.text()}`);
}

/** The images that cannot be pulled back as pushed, with why. */
export async function unpullable(url: string, images: PushedImage[]): Promise<string[]> {
  const bad: string[] = [];
  for (const img of images) {
    for (const [path, digest] of [[`manifests/${img.tag}`, img.manifest.digest], [`blobs/${img.layer.digest}`, img.layer.digest]] as const) {
      const r = await fetch(`${url}/v2/${img.repo}/${path}`, { signal: AbortSignal.timeout(10_000) });
      const body = Buffer.from(await r.arrayBuffer());
      if (r.status !== 200 || sha256(body) !== digest) bad.push(`${img.repo}/${path}: ${r.status}`);
    }
  }
  return bad;
}
