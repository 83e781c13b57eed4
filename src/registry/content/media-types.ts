export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+json';
export const DOCKER_SCHEMA1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

export const MANIFEST_TYPES: ReadonlySet<string> = new Set([OCI_MANIFEST, DOCKER_MANIFEST]);
export const INDEX_TYPES: ReadonlySet<string> = new Set([OCI_INDEX, DOCKER_LIST]);

/** Layers that clients fetch from elsewhere (descriptor `urls`): the registry need not hold them. */
export const FOREIGN_LAYER_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

/** The media type without parameters, lower-cased. */
export function bareMediaType(value: string | undefined): string | undefined {
  const t = value?.split(';')[0]?.trim().toLowerCase();
  return t ? t : undefined;
}

// RFC 6838 section 4.2 restricted names, then RFC 9110 parameters (token=token or quoted-string).
const RESTRICTED_NAME = "[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}";
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const PARAMETER = `[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"(?:[\\t\\x20-\\x21\\x23-\\x5b\\x5d-\\x7e]|\\\\[\\t\\x20-\\x7e])*")`;
const MEDIA_TYPE_RE = new RegExp(`^${RESTRICTED_NAME}/${RESTRICTED_NAME}(?:${PARAMETER})*$`);

/**
 * True when the value is a media type as the image spec requires of descriptors'
 * `mediaType` and of `artifactType` (RFC 6838). Nothing else can be stored as one,
 * so a filter on anything else could never match.
 */
export function isMediaType(value: string): boolean {
  return value.length <= 1024 && MEDIA_TYPE_RE.test(value);
}
