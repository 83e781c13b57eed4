// Validation of repository names, tags and references, per the OCI distribution
// spec's grammar. Validated values are branded so inner layers can trust them.
import { tryParseDigest, type Digest } from '../digest/digest.ts';
import { RegistryError } from '../errors/codes.ts';

export type RepoName = string & { readonly __brand: 'RepoName' };
export type Tag = string & { readonly __brand: 'Tag' };
export type Reference = { kind: 'tag'; tag: Tag } | { kind: 'digest'; digest: Digest };

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
export const MAX_NAME_LENGTH = 255;

export function isValidRepoName(name: string): name is RepoName {
  return name.length <= MAX_NAME_LENGTH && NAME_RE.test(name);
}

export function parseRepoName(name: string): RepoName {
  if (name.length > MAX_NAME_LENGTH) throw new RegistryError('NAME_INVALID', `repository name longer than ${MAX_NAME_LENGTH} characters`);
  if (!NAME_RE.test(name)) throw new RegistryError('NAME_INVALID', `invalid repository name "${name}"`);
  return name as RepoName;
}

export function isValidTag(tag: string): tag is Tag {
  return TAG_RE.test(tag);
}

/** A manifest reference: a digest if it contains ':', else a tag. */
export function parseReference(ref: string, onBad: 'MANIFEST_UNKNOWN' | 'TAG_INVALID' = 'TAG_INVALID'): Reference {
  if (ref.includes(':')) {
    const digest = tryParseDigest(ref);
    if (!digest) throw new RegistryError(onBad === 'TAG_INVALID' ? 'DIGEST_INVALID' : onBad, `invalid digest "${ref}"`);
    return { kind: 'digest', digest };
  }
  if (!isValidTag(ref)) throw new RegistryError(onBad, `invalid tag "${ref}"`);
  return { kind: 'tag', tag: ref };
}
