// Parses and validates a pushed manifest: its JSON shape, its media type and the
// descriptors it references. What must exist in the repository is checked later,
// inside the committing transaction.
import { tryParseDigest, type Digest } from '../../digest/digest.ts';
import { RegistryError } from '../../errors/codes.ts';
import {
  bareMediaType,
  DOCKER_SCHEMA1,
  DOCKER_SCHEMA1_SIGNED,
  FOREIGN_LAYER_TYPES,
  INDEX_TYPES,
  MANIFEST_TYPES,
  OCI_INDEX,
  isMediaType,
  OCI_MANIFEST,
} from './media-types.ts';
import { unstorableString } from '../text.ts';

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
}

export interface ParsedManifest {
  kind: 'manifest' | 'index';
  mediaType: string;
  artifactType: string | null;
  subject: Digest | null;
  annotations: Record<string, string> | null;
  /** Blobs the repository must hold (config and layers). */
  blobs: Descriptor[];
  /** Manifests the repository must hold (index entries). */
  children: Descriptor[];
}

type Json = Record<string, unknown>;

function invalid(detail: string): RegistryError {
  return new RegistryError('MANIFEST_INVALID', detail);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseDescriptor(v: unknown, where: string): Descriptor & { urls?: unknown } {
  if (!isObject(v)) throw invalid(`${where} is not a descriptor object`);
  const { mediaType, digest, size, urls } = v;
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid(`${where}.mediaType is missing`);
  if (!isMediaType(mediaType)) throw invalid(`${where}.mediaType "${mediaType.slice(0, 128)}" is not a media type (RFC 6838)`);
  if (typeof digest !== 'string') throw invalid(`${where}.digest is missing`);
  const parsed = tryParseDigest(digest);
  if (!parsed) throw invalid(`${where}.digest "${digest}" is not a supported digest`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where}.size must be a non-negative integer`);
  return { mediaType, digest: parsed, size, urls };
}

function parseAnnotations(v: unknown, where: string): Record<string, string> | null {
  if (v === undefined || v === null) return null;
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) throw invalid(`${where} must map strings to strings`);
  return v as Record<string, string>;
}

function optionalMediaType(v: unknown, where: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw invalid(`${where} must be a string`);
  if (!isMediaType(v)) throw invalid(`${where} "${v.slice(0, 128)}" is not a media type (RFC 6838)`);
  return v;
}

/** The manifest's media type: its own mediaType field, else the request's Content-Type, else its shape. */
function resolveMediaType(doc: Json, contentType: string | undefined): string {
  const declared = doc.mediaType;
  const header = bareMediaType(contentType);
  if (declared !== undefined) {
    if (typeof declared !== 'string') throw invalid('mediaType must be a string');
    if (header && (MANIFEST_TYPES.has(header) || INDEX_TYPES.has(header)) && header !== declared) {
      throw invalid(`Content-Type ${header} does not match the manifest's mediaType ${declared}`);
    }
    return declared;
  }
  if (header && (MANIFEST_TYPES.has(header) || INDEX_TYPES.has(header))) return header;
  if (Array.isArray(doc.manifests)) return OCI_INDEX;
  if (isObject(doc.config)) return OCI_MANIFEST;
  throw invalid('cannot tell the manifest type: no mediaType, Content-Type or recognisable shape');
}

export function parseManifest(content: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(content.toString('utf8'));
  } catch (err) {
    throw invalid(`manifest is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw invalid('manifest must be a JSON object');
  // rows keep some of its strings (annotations, media types): none may be text PostgreSQL cannot hold
  const unstorable = unstorableString(doc);
  if (unstorable !== null) throw invalid(`${unstorable.slice(0, 200)} holds a NUL character or a lone surrogate`);
  const mediaType = resolveMediaType(doc, contentType);
  if (mediaType === DOCKER_SCHEMA1 || mediaType === DOCKER_SCHEMA1_SIGNED || doc.schemaVersion === 1) {
    throw invalid('Docker schema 1 manifests are not supported');
  }
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  if (!MANIFEST_TYPES.has(mediaType) && !INDEX_TYPES.has(mediaType)) throw invalid(`unsupported manifest media type ${mediaType}`);

  const subject = doc.subject === undefined || doc.subject === null ? null : parseDescriptor(doc.subject, 'subject').digest;
  const annotations = parseAnnotations(doc.annotations, 'annotations');
  const declaredArtifactType = optionalMediaType(doc.artifactType, 'artifactType');

  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw invalid('an index must have a manifests array');
    const children = doc.manifests.map((m, i) => parseDescriptor(m, `manifests[${i}]`));
    return { kind: 'index', mediaType, artifactType: declaredArtifactType, subject, annotations, blobs: [], children };
  }

  const config = parseDescriptor(doc.config, 'config');
  if (doc.layers !== undefined && !Array.isArray(doc.layers)) throw invalid('layers must be an array');
  const layers = ((doc.layers as unknown[] | undefined) ?? []).map((l, i) => parseDescriptor(l, `layers[${i}]`));
  const hosted = layers.filter((l) => !(FOREIGN_LAYER_TYPES.has(l.mediaType) && Array.isArray(l.urls) && l.urls.length > 0));
  return {
    kind: 'manifest',
    mediaType,
    artifactType: declaredArtifactType ?? config.mediaType,
    subject,
    annotations,
    blobs: [config, ...hosted].map(({ mediaType: mt, digest, size }) => ({ mediaType: mt, digest, size })),
    children: [],
  };
}
