// Parsing of request headers and query parameters into typed values.
import type { Request } from 'express';
import { parseDigest, tryParseDigest, type Digest } from '../digest/digest.ts';
import { RegistryError } from '../errors/codes.ts';
import type { PageRequest } from '../registry/content/listing.ts';
import { isMediaType } from '../registry/content/media-types.ts';
import { isValidRepoName, isValidTag, type Tag } from '../shared/names.ts';
import type { ChunkRange } from '../registry/push/uploads.ts';

export function queryString(req: Request, key: string): string | null {
  const v = req.query[key];
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return null;
}

export function queryDigest(req: Request, key = 'digest'): Digest | null {
  const v = queryString(req, key);
  return v === null ? null : parseDigest(v);
}

/** The most `?tag=` parameters one manifest PUT takes (the spec asks for at least 10). */
export const MAX_TAG_PARAMETERS = 100;

/**
 * The `?tag=` parameters of a manifest PUT, each checked against the tag grammar before
 * anything is read or stored: one bad tag refuses the whole push.
 */
export function tagParameters(req: Request): Tag[] {
  const v = req.query['tag'];
  if (v === undefined) return [];
  const values = Array.isArray(v) ? v : [v];
  if (values.length > MAX_TAG_PARAMETERS) {
    throw new RegistryError('TOO_MANY_TAGS', `at most ${MAX_TAG_PARAMETERS} tag parameters per request, got ${values.length}`);
  }
  return values.map((t) => {
    if (typeof t !== 'string' || !isValidTag(t)) {
      throw new RegistryError('TAG_INVALID', `tag parameter "${String(t).slice(0, 64)}" does not match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`);
    }
    return t;
  });
}

/** What a listing's `last` names: the listing's own items, so nothing else can be a cursor. */
export type CursorKind = 'repository name' | 'tag' | 'digest';

const CURSOR_CHECKS: Record<CursorKind, (v: string) => boolean> = {
  'repository name': isValidRepoName,
  tag: isValidTag,
  digest: (v) => tryParseDigest(v) !== null,
};

export function pageRequest(req: Request, cursor: CursorKind): PageRequest {
  const n = queryString(req, 'n');
  let parsed: number | null = null;
  if (n !== null && n !== '') {
    if (!/^\d+$/.test(n)) throw new RegistryError('PAGINATION_NUMBER_INVALID', `n must be a non-negative integer, got "${n.slice(0, 64)}"`);
    parsed = Number(n);
  }
  const last = queryString(req, 'last');
  if (last === null || last === '') return { n: parsed, last: null };
  if (!CURSOR_CHECKS[cursor](last)) throw new RegistryError('PAGINATION_CURSOR_INVALID', `last must be a ${cursor}, got "${last.slice(0, 64)}"`);
  return { n: parsed, last };
}

/** The referrers' artifactType filter: a media type, or null when absent or empty. */
export function artifactTypeFilter(req: Request): string | null {
  const v = queryString(req, 'artifactType');
  if (v === null || v === '') return null;
  if (!isMediaType(v)) throw new RegistryError('PARAMETER_INVALID', `artifactType must be a media type, got "${v.slice(0, 64)}"`);
  return v;
}

/** Content-Range of a PATCH: "<start>-<end>", tolerating a "bytes " prefix and a "/total" suffix. */
export function chunkRange(req: Request): ChunkRange | null {
  const h = req.headers['content-range'];
  if (h === undefined) return null;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(h.trim());
  if (!m) throw new RegistryError('RANGE_INVALID', `malformed Content-Range "${h}"`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new RegistryError('RANGE_INVALID', `Content-Range end before start: "${h}"`);
  return { start, end };
}

export function hasBody(req: Request): boolean {
  const len = req.headers['content-length'];
  if (len !== undefined) return len !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

export type RangeRequest = { kind: 'none' } | { kind: 'range'; start: number; end: number } | { kind: 'unsatisfiable' };

/** A single byte range from a Range header, resolved against the blob size (RFC 9110). */
export function byteRange(header: string | undefined, size: number): RangeRequest {
  if (!header) return { kind: 'none' };
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'none' }; // multi-range or malformed: serve it whole
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(size - suffix, 0), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return { kind: 'none' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end };
}
