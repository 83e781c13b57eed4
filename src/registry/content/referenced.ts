// The answer to a DELETE of content that other content still references: a manifest
// an index lists, a blob manifests of the repository list. The refusal stays; its
// status is one the spec allows for these DELETEs (202, 404, 400, 405): 405 with
// UNSUPPORTED, the pair it gives for a registry that refuses the deletion, and an
// Allow header as 405 requires. The reason and what to do go into the message, the
// field skopeo, crane and oras print (docs/architecture.md, "Deleting referenced content").
import { RegistryError } from '../../errors/codes.ts';

export const MANIFEST_METHODS = 'GET, HEAD, PUT';
export const BLOB_METHODS = 'GET, HEAD';

export function referencedError(message: string, allow: string): RegistryError {
  // no detail: clients print it after the message, which says it all already
  return new RegistryError('UNSUPPORTED', undefined, { Allow: allow }, message);
}
