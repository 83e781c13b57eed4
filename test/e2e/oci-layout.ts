// Builds and reads OCI image layouts (image-spec "image-layout.md") on disk for
// the end-to-end tests that drive external clients such as skopeo. Layers are
// real gzip-compressed tar archives written by a minimal ustar writer; every blob
// is streamed to disk and hashed on the way, and blobs read back are hashed from
// disk in a stream, so nothing large is ever held in memory.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const REF_NAME = 'org.opencontainers.image.ref.name';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** One regular file (or directory, when the path ends in '/') of a tar layer. */
export interface TarEntry {
  path: string;
  /** Literal content. */
  data?: Buffer | string;
  /** Or this many random bytes, generated and written in chunks. */
  randomSize?: number;
  mode?: number;
}

export interface BuiltLayer extends Descriptor {
  /** sha256 of the uncompressed tar: the config's rootfs.diff_ids entry. */
  diffId: string;
}

export interface BuiltImage {
  manifest: Descriptor;
  config: Descriptor;
  layers: BuiltLayer[];
  platform: Platform;
}

const CHUNK = 64 * 1024;
const MTIME = Math.floor(Date.UTC(2024, 0, 1) / 1000);

export function blobPath(layout: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  if (!alg || !hex || !/^[a-z0-9]+$/.test(alg) || !/^[a-f0-9]+$/.test(hex)) throw new Error(`bad digest ${digest}`);
  return join(layout, 'blobs', alg, hex);
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** sha256 and size of a file, read as a stream. */
export async function sha256File(path: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** Creates the layout's `oci-layout` file and blob directory. */
export async function initLayout(layout: string): Promise<void> {
  await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}

/** Writes a small in-memory blob (a config or manifest) and returns its descriptor. */
export async function writeBlob(layout: string, data: Buffer | string, mediaType: string): Promise<Descriptor> {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const digest = sha256(buf);
  await writeFile(blobPath(layout, digest), buf);
  return { mediaType, digest, size: buf.length };
}

// ---------------------------------------------------------------------------
// ustar

function octal(value: number, width: number): string {
  // width - 1 octal digits then NUL
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function tarHeader(name: string, size: number, mode: number, type: '0' | '5'): Buffer {
  const h = Buffer.alloc(512, 0);
  let prefix = '';
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', name.length - 2);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
    if (cut < 0 || Buffer.byteLength(base) > 100 || Buffer.byteLength(prefix) > 155) throw new Error(`tar path too long: ${name}`);
  }
  h.write(base, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 8, 'ascii');
  h.write(octal(0, 8), 108, 8, 'ascii'); // uid
  h.write(octal(0, 8), 116, 8, 'ascii'); // gid
  h.write(octal(size, 12), 124, 12, 'ascii');
  h.write(octal(MTIME, 12), 136, 12, 'ascii');
  h.write('        ', 148, 8, 'ascii'); // checksum placeholder: spaces
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** The bytes of a tar archive of `entries`, produced chunk by chunk. */
export async function* tarStream(entries: TarEntry[]): AsyncGenerator<Buffer> {
  for (const e of entries) {
    if (e.path.endsWith('/')) {
      yield tarHeader(e.path, 0, e.mode ?? 0o755, '5');
      continue;
    }
    const data = e.data === undefined ? undefined : Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
    const size = data ? data.length : (e.randomSize ?? 0);
    yield tarHeader(e.path, size, e.mode ?? 0o644, '0');
    if (data) {
      if (data.length) yield data;
    } else {
      for (let left = size; left > 0; left -= CHUNK) yield randomBytes(Math.min(CHUNK, left));
    }
    const pad = (512 - (size % 512)) % 512;
    if (pad) yield Buffer.alloc(pad, 0);
  }
  yield Buffer.alloc(1024, 0); // two zero blocks end the archive
}

/** Passes data through, hashing and counting it. */
class Tap extends Transform {
  hash: Hash = createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
}

/** Streams a gzip-compressed tar of `entries` into the layout; returns its descriptor and diff ID. */
export async function writeGzipTarLayer(layout: string, entries: TarEntry[]): Promise<BuiltLayer> {
  const tmp = join(layout, 'blobs', `.tmp-${randomBytes(8).toString('hex')}`);
  const uncompressed = new Tap();
  const compressed = new Tap();
  await pipeline(Readable.from(tarStream(entries)), uncompressed, createGzip(), compressed, createWriteStream(tmp));
  const digest = `sha256:${compressed.hash.digest('hex')}`;
  await rename(tmp, blobPath(layout, digest));
  return { mediaType: OCI_LAYER_GZIP, digest, size: compressed.size, diffId: `sha256:${uncompressed.hash.digest('hex')}` };
}

/** Writes layers, config and manifest of one image; returns the descriptors (the manifest's carries the platform). */
export async function writeImage(
  layout: string,
  opts: { platform: Platform; layers: TarEntry[][]; cmd?: string[]; annotations?: Record<string, string> },
): Promise<BuiltImage> {
  const layers: BuiltLayer[] = [];
  for (const entries of opts.layers) layers.push(await writeGzipTarLayer(layout, entries));
  const configDoc = {
    created: '2024-01-01T00:00:00Z',
    architecture: opts.platform.architecture,
    os: opts.platform.os,
    ...(opts.platform.variant ? { variant: opts.platform.variant } : {}),
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: opts.cmd ?? ['/bin/sh'],
      WorkingDir: '/',
      Labels: { 'org.example.bollard.e2e': opts.platform.architecture },
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `bollard e2e layer ${i}` })),
  };
  const config = await writeBlob(layout, JSON.stringify(configDoc), OCI_CONFIG);
  const manifestDoc = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  const manifest = await writeBlob(layout, JSON.stringify(manifestDoc), OCI_MANIFEST);
  return { manifest: { ...manifest, platform: opts.platform }, config, layers, platform: opts.platform };
}

/** Writes an image index over `images` (each child descriptor carries its platform). */
export async function writeIndex(layout: string, images: BuiltImage[]): Promise<Descriptor> {
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: images.map((img) => ({
      mediaType: img.manifest.mediaType,
      digest: img.manifest.digest,
      size: img.manifest.size,
      platform: img.platform,
    })),
  };
  return writeBlob(layout, JSON.stringify(doc), OCI_INDEX);
}

/** Writes the layout's index.json, naming each descriptor with its ref. */
export async function writeIndexJson(layout: string, refs: Array<{ ref: string; descriptor: Descriptor }>): Promise<void> {
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: refs.map(({ ref, descriptor }) => ({
      mediaType: descriptor.mediaType,
      digest: descriptor.digest,
      size: descriptor.size,
      annotations: { [REF_NAME]: ref },
    })),
  };
  await writeFile(join(layout, 'index.json'), JSON.stringify(doc, null, 2));
}

// ---------------------------------------------------------------------------
// reading

export interface ManifestDoc {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface IndexDoc {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
}

/** The descriptor that a layout's index.json names `ref`. */
export async function resolveRef(layout: string, ref: string): Promise<Descriptor> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as IndexDoc;
  const found = index.manifests.filter((d) => d.annotations?.[REF_NAME] === ref);
  if (found.length !== 1) {
    throw new Error(`${layout}/index.json names ${ref} ${found.length} times: ${JSON.stringify(index.manifests)}`);
  }
  return found[0] as Descriptor;
}

/** A blob of the layout, checked against its digest (streamed) before it is returned. */
export async function readBlob(layout: string, digest: string): Promise<Buffer> {
  const path = blobPath(layout, digest);
  const { size } = await stat(path);
  if (size > 4 * 1024 * 1024) throw new Error(`${digest} is ${size} bytes: too big to read into memory`);
  const data = await readFile(path);
  const actual = sha256(data);
  if (actual !== digest) throw new Error(`${path} holds ${actual}`);
  return data;
}

export async function readJsonBlob<T>(layout: string, digest: string): Promise<T> {
  return JSON.parse((await readBlob(layout, digest)).toString('utf8')) as T;
}

/** Digest and size of a blob file as found on disk (hashed as a stream). */
export async function checkBlobFile(layout: string, digest: string): Promise<{ digest: string; size: number }> {
  return sha256File(blobPath(layout, digest));
}
