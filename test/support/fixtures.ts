// Content used by the tests: blobs, configs and manifests built on the fly.
import { createHash, randomBytes } from 'node:crypto';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const EMPTY_CONFIG = 'application/vnd.oci.empty.v1+json';

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function sha512(data: Buffer | string): string {
  return `sha512:${createHash('sha512').update(data).digest('hex')}`;
}

export interface Blob {
  data: Buffer;
  digest: string;
  size: number;
}

export function blob(data: Buffer | string): Blob {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return { data: buf, digest: sha256(buf), size: buf.length };
}

export function randomBlob(size = 1024): Blob {
  return blob(randomBytes(size));
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

export function describe(b: Blob, mediaType: string): Descriptor {
  return { mediaType, digest: b.digest, size: b.size };
}

export function imageManifest(config: Blob, layers: Blob[], extra: Record<string, unknown> = {}, mediaType = OCI_MANIFEST) {
  const isDocker = mediaType === DOCKER_MANIFEST;
  const doc = {
    schemaVersion: 2,
    mediaType,
    config: describe(config, isDocker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json'),
    layers: layers.map((l) => describe(l, isDocker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip')),
    ...extra,
  };
  return blob(JSON.stringify(doc));
}

export function imageIndex(children: Array<{ manifest: Blob; mediaType?: string; platform?: { architecture: string; os: string } }>, mediaType = OCI_INDEX) {
  const doc = {
    schemaVersion: 2,
    mediaType,
    manifests: children.map((c) => ({ ...describe(c.manifest, c.mediaType ?? OCI_MANIFEST), ...(c.platform ? { platform: c.platform } : {}) })),
  };
  return blob(JSON.stringify(doc));
}

export const emptyConfig = blob('{}');
