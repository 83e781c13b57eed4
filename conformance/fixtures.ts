// Content fixtures: random blobs, OCI image configs, manifests, indexes and artifacts.
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';

export const MEDIA_TYPES = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  empty: 'application/vnd.oci.empty.v1+json',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  data?: string;
  platform?: { architecture: string; os: string };
}

/** A blob with its digest and size. */
export interface BlobFixture {
  bytes: Buffer;
  digest: string;
  size: number;
  mediaType: string;
}

/** A serialized manifest or index: exactly these bytes are pushed. */
export interface ManifestFixture extends BlobFixture {
  json: Record<string, unknown>;
}

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function sha512(bytes: Uint8Array | string): string {
  return `sha512:${createHash('sha512').update(bytes).digest('hex')}`;
}

/** The same bytes named by their sha512 digest. */
export function asSha512<T extends BlobFixture>(blob: T): T {
  return { ...blob, digest: sha512(blob.bytes) };
}

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

export function blobOf(bytes: Buffer, mediaType: string): BlobFixture {
  return { bytes, digest: sha256(bytes), size: bytes.length, mediaType };
}

/** A random (incompressible) layer blob of `size` bytes. */
export function randomBlob(size: number, mediaType: string = MEDIA_TYPES.layer): BlobFixture {
  return blobOf(randomBytes(size), mediaType);
}

/** A digest of random content that no registry will hold. */
export function randomDigest(): string {
  return sha256(randomBytes(32));
}

export function descriptorOf(blob: BlobFixture, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType: blob.mediaType, digest: blob.digest, size: blob.size, ...extra };
}

/** The empty JSON blob `{}` used as config (and layer) of artifacts. */
export const EMPTY_BLOB: BlobFixture = blobOf(Buffer.from('{}', 'utf8'), MEDIA_TYPES.empty);

/** The empty descriptor from the image spec, with its data embedded (`e30=`). */
export function emptyDescriptor(): Descriptor {
  return descriptorOf(EMPTY_BLOB, { data: Buffer.from('{}', 'utf8').toString('base64') });
}

/** An OCI image config whose rootfs lists the given (uncompressed) layers. */
export function imageConfig(layers: readonly BlobFixture[]): BlobFixture {
  const config = {
    created: '2024-01-01T00:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: ['/bin/true'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `conformance layer ${i}` })),
  };
  return blobOf(Buffer.from(JSON.stringify(config), 'utf8'), MEDIA_TYPES.config);
}

/**
 * Serializes a manifest document. Indented with a trailing newline on purpose:
 * a registry that re-serializes instead of storing the exact bytes will be caught.
 */
export function serialize(json: Record<string, unknown>, mediaType: string): ManifestFixture {
  const bytes = Buffer.from(`${JSON.stringify(json, null, 3)}\n`, 'utf8');
  return { ...blobOf(bytes, mediaType), json };
}

export interface ImageManifestOptions {
  config: Descriptor;
  layers: readonly Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export function imageManifest(options: ImageManifestOptions): ManifestFixture {
  const json: Record<string, unknown> = { schemaVersion: 2, mediaType: MEDIA_TYPES.manifest };
  if (options.artifactType !== undefined) json['artifactType'] = options.artifactType;
  json['config'] = options.config;
  json['layers'] = options.layers;
  if (options.subject !== undefined) json['subject'] = options.subject;
  if (options.annotations !== undefined) json['annotations'] = options.annotations;
  return serialize(json, MEDIA_TYPES.manifest);
}

export interface ImageIndexOptions {
  manifests: readonly Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export function imageIndex(options: ImageIndexOptions): ManifestFixture {
  const json: Record<string, unknown> = { schemaVersion: 2, mediaType: MEDIA_TYPES.index };
  if (options.artifactType !== undefined) json['artifactType'] = options.artifactType;
  json['manifests'] = options.manifests;
  if (options.subject !== undefined) json['subject'] = options.subject;
  if (options.annotations !== undefined) json['annotations'] = options.annotations;
  return serialize(json, MEDIA_TYPES.index);
}

/** A complete image: layers, config and manifest. */
export interface ImageFixture {
  layers: BlobFixture[];
  config: BlobFixture;
  manifest: ManifestFixture;
}

export function randomImage(layerSizes: readonly number[] = [2048, 1536], annotations?: Record<string, string>): ImageFixture {
  const layers = layerSizes.map((n) => randomBlob(n));
  const config = imageConfig(layers);
  const opts: ImageManifestOptions = { config: descriptorOf(config), layers: layers.map((l) => descriptorOf(l)) };
  if (annotations !== undefined) opts.annotations = annotations;
  return { layers, config, manifest: imageManifest(opts) };
}

export interface ArtifactOptions {
  artifactType: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
  /** Layer blobs; when omitted the empty descriptor is used as the only layer. */
  layers?: readonly BlobFixture[];
}

/** An artifact manifest: image manifest with `artifactType` and the empty config. */
export function artifactManifest(options: ArtifactOptions): ManifestFixture {
  const layers = options.layers === undefined || options.layers.length === 0
    ? [emptyDescriptor()]
    : options.layers.map((l) => descriptorOf(l));
  const opts: ImageManifestOptions = { config: emptyDescriptor(), layers, artifactType: options.artifactType };
  if (options.subject !== undefined) opts.subject = options.subject;
  if (options.annotations !== undefined) opts.annotations = options.annotations;
  return imageManifest(opts);
}

/** The referrers tag schema: `<alg>-<hex>` truncated per the spec. */
export function referrersTag(digest: string): string {
  const at = digest.indexOf(':');
  const alg = digest.slice(0, at).slice(0, 32).replace(/[^a-zA-Z0-9._-]/g, '-');
  const enc = digest.slice(at + 1).slice(0, 64).replace(/[^a-zA-Z0-9._-]/g, '-');
  return `${alg}-${enc}`;
}

/** A valid random tag name with a prefix. */
export function randomTag(prefix: string): string {
  return `${prefix}-${randomHex(4)}`;
}
