// Parsing of OCI digests ("<algorithm>:<encoded>") into a typed value. Only the
// algorithms the registry can verify are accepted, with their exact hex length.
import { RegistryError } from '../errors/codes.ts';

export type DigestAlgorithm = 'sha256' | 'sha512';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_RE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

export interface Digest {
  readonly algorithm: DigestAlgorithm;
  /** Lower-case hex. */
  readonly hex: string;
  /** The canonical "<algorithm>:<hex>" form. */
  readonly text: string;
}

export function isSupportedAlgorithm(alg: string): alg is DigestAlgorithm {
  return alg === 'sha256' || alg === 'sha512';
}

/** Returns the digest, or null when the text is not a digest this registry supports. */
export function tryParseDigest(text: string): Digest | null {
  const m = DIGEST_RE.exec(text);
  if (!m) return null;
  const alg = m[1] as string;
  const hex = m[2] as string;
  if (!isSupportedAlgorithm(alg)) return null;
  if (hex.length !== HEX_LENGTH[alg] || !/^[0-9a-f]+$/.test(hex)) return null;
  return { algorithm: alg, hex, text: `${alg}:${hex}` };
}

export function parseDigest(text: string, code: 'DIGEST_INVALID' | 'MANIFEST_INVALID' = 'DIGEST_INVALID'): Digest {
  const d = tryParseDigest(text);
  if (!d) {
    const m = DIGEST_RE.exec(text);
    const why = m && !isSupportedAlgorithm(m[1] as string) ? `unsupported digest algorithm "${m[1]}"` : `invalid digest "${text}"`;
    throw new RegistryError(code, why);
  }
  return d;
}

export function digestFromBuffer(algorithm: DigestAlgorithm, hash: Buffer): Digest {
  const hex = hash.toString('hex');
  return { algorithm, hex, text: `${algorithm}:${hex}` };
}
