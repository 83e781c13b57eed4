// Whole images for the benchmarks: pushed as a registry client pushes them (blobs,
// then the manifest), and pulled as one pulls them (manifest, config, every layer
// read to the end and discarded).
import { createHash } from 'node:crypto';
import { call, pull, pushBuffer, pushMonolithic, putManifest } from './client.ts';
import type { DataFile } from './files.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** An image manifest naming the config and the layers. */
export function ociManifest(config: Buffer, layers: ReadonlyArray<{ digest: string; size: number }>): Buffer {
  return Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
  }));
}

export function smallConfig(): Buffer {
  return Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
}

/** One layer streamed from a file (monolithic PUT), a small config, the manifest by tag. */
export async function pushFileImage(url: string, repo: string, tag: string, layer: DataFile): Promise<void> {
  const config = smallConfig();
  await pushBuffer(url, repo, config, sha256(config));
  await pushMonolithic(url, repo, layer);
  await putManifest(url, repo, tag, ociManifest(config, [layer]), OCI_MANIFEST);
}

/** Pulls the image by tag: manifest, then config and layers one after the other. Returns the bytes received. */
export async function pullImage(url: string, repo: string, tag: string): Promise<number> {
  const m = await call(`${url}/v2/${repo}/manifests/${tag}`, 'GET', { headers: { Accept: OCI_MANIFEST } });
  if (m.status !== 200) throw new Error(`GET manifest ${repo}:${tag}: ${m.status} ${m.body.slice(0, 300)}`);
  const manifest = JSON.parse(m.body) as { config: { digest: string; size: number }; layers: Array<{ digest: string; size: number }> };
  let bytes = Buffer.byteLength(m.body);
  for (const d of [manifest.config, ...manifest.layers]) {
    const n = await pull(url, repo, d.digest);
    if (n !== d.size) throw new Error(`${d.digest}: received ${n} bytes of ${d.size}`);
    bytes += n;
  }
  return bytes;
}
