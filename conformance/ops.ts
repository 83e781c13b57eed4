// Registry operations used by setup steps (push blobs, manifests, images).
import { describe, expectHeader, expectStatus, fail } from './assert.ts';
import type { HttpResponse, RegistryClient } from './http.ts';
import { withQuery } from './http.ts';
import type { BlobFixture, ImageFixture, ManifestFixture } from './fixtures.ts';
import { EMPTY_BLOB } from './fixtures.ts';

export const OCTET = { 'content-type': 'application/octet-stream' } as const;

export function blobPath(repo: string, digest: string): string {
  return `/v2/${repo}/blobs/${digest}`;
}

export function manifestPath(repo: string, reference: string): string {
  return `/v2/${repo}/manifests/${reference}`;
}

export function uploadsPath(repo: string): string {
  return `/v2/${repo}/blobs/uploads/`;
}

/** Opens an upload session (POST, empty body) and returns the absolute session URL. */
export async function startUpload(c: RegistryClient, repo: string): Promise<string> {
  const res = await c.request('POST', uploadsPath(repo), { body: new Uint8Array(0) });
  expectStatus(res, 202);
  return c.resolve(expectHeader(res, 'location'), res.url);
}

/** PUT `<location>?digest=` with the given body (may be empty). */
export async function finishUpload(
  c: RegistryClient,
  location: string,
  digest: string,
  body: Uint8Array,
  extraHeaders: Record<string, string> = {},
): Promise<HttpResponse> {
  return c.request('PUT', withQuery(location, { digest }), {
    body,
    headers: { ...OCTET, ...extraHeaders },
  });
}

/** Pushes a blob with POST then PUT; throws a CheckFailure unless it ends in 201. */
export async function pushBlob(c: RegistryClient, repo: string, blob: BlobFixture): Promise<void> {
  const location = await startUpload(c, repo);
  const res = await finishUpload(c, location, blob.digest, blob.bytes);
  if (res.status !== 201) fail(`pushing blob ${blob.digest} to ${repo}: expected 201, got ${describe(res)}`);
}

/** PUT a manifest with its media type as Content-Type; returns the raw response. */
export async function putManifest(
  c: RegistryClient,
  repo: string,
  reference: string,
  manifest: ManifestFixture,
): Promise<HttpResponse> {
  return c.request('PUT', manifestPath(repo, reference), {
    body: manifest.bytes,
    headers: { 'content-type': manifest.mediaType },
  });
}

/** PUT a manifest and require 201. */
export async function pushManifest(
  c: RegistryClient,
  repo: string,
  reference: string,
  manifest: ManifestFixture,
): Promise<HttpResponse> {
  const res = await putManifest(c, repo, reference, manifest);
  if (res.status !== 201) fail(`pushing manifest ${manifest.digest} as ${repo}:${reference}: expected 201, got ${describe(res)}`);
  return res;
}

/** Pushes all blobs of an image, then its manifest under each tag (or by digest when no tags). */
export async function pushImage(
  c: RegistryClient,
  repo: string,
  image: ImageFixture,
  tags: readonly string[] = [],
): Promise<void> {
  for (const layer of image.layers) await pushBlob(c, repo, layer);
  await pushBlob(c, repo, image.config);
  if (tags.length === 0) {
    await pushManifest(c, repo, image.manifest.digest, image.manifest);
  } else {
    for (const tag of tags) await pushManifest(c, repo, tag, image.manifest);
  }
}

/** Pushes the empty JSON blob `{}` used by artifacts. */
export async function pushEmptyBlob(c: RegistryClient, repo: string): Promise<void> {
  await pushBlob(c, repo, EMPTY_BLOB);
}

/** Best-effort cancel of an upload session (errors ignored). */
export async function cancelUpload(c: RegistryClient, location: string): Promise<void> {
  try {
    await c.request('DELETE', location);
  } catch {
    // ignored: cancelling is a courtesy
  }
}
