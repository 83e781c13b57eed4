// Referrer descriptors and the client side of the referrers tag schema fallback.
import { describe, expectContentType, expectEqual, expectStatus, fail, isRecord, parseJson } from './assert.ts';
import type { WorkflowContext } from './context.ts';
import type { Descriptor, ManifestFixture } from './fixtures.ts';
import { MEDIA_TYPES, imageIndex, referrersTag } from './fixtures.ts';
import { manifestPath, putManifest } from './ops.ts';

/** A referrer we push, with the descriptor the referrers API must return for it. */
export interface Referrer {
  label: string;
  manifest: ManifestFixture;
  expected: Descriptor;
}

/** Checks that `list` holds a descriptor matching `want` (annotations: all of ours present). */
export function expectDescriptor(list: readonly unknown[], want: Descriptor, label: string): void {
  const found = list.find((d) => isRecord(d) && d['digest'] === want.digest);
  if (!isRecord(found)) fail(`${label}: no descriptor with digest ${want.digest} among ${list.length} referrers`);
  expectEqual(found['mediaType'], want.mediaType, `${label} descriptor mediaType`);
  expectEqual(found['size'], want.size, `${label} descriptor size`);
  expectEqual(found['artifactType'], want.artifactType, `${label} descriptor artifactType`);
  const got = isRecord(found['annotations']) ? found['annotations'] : {};
  for (const [k, v] of Object.entries(want.annotations ?? {})) {
    expectEqual(got[k], v, `${label} descriptor annotation ${k}`);
  }
}

/**
 * What a client does when the registry does not process `subject`: pull the
 * index tagged `<alg>-<hex>` (404 means start empty), add missing descriptors,
 * push it back, then read it again to confirm every referrer is listed.
 */
export async function referrersFallback(
  ctx: WorkflowContext,
  subjectDigest: string,
  refs: readonly Referrer[],
): Promise<void> {
  const c = ctx.client;
  const tag = referrersTag(subjectDigest);
  const path = manifestPath(ctx.namespace, tag);
  const accept = { accept: MEDIA_TYPES.index };

  let existing: Descriptor[] = [];
  const res = await c.request('GET', path, { headers: accept });
  if (res.status === 200) {
    expectContentType(res, MEDIA_TYPES.index);
    const body = parseJson(res);
    if (!isRecord(body) || !Array.isArray(body['manifests'])) {
      fail(`referrers tag ${tag} does not hold an image index: ${describe(res)}`);
    }
    existing = (body['manifests'] as unknown[]).filter(isRecord) as unknown as Descriptor[];
  } else if (res.status !== 404) {
    fail(`GET referrers tag ${tag}: expected 200 or 404, got ${describe(res)}`);
  }

  const have = new Set(existing.map((d) => d.digest));
  const manifests = [...existing, ...refs.map((r) => r.expected).filter((d) => !have.has(d.digest))];
  const put = await putManifest(c, ctx.namespace, tag, imageIndex({ manifests }));
  expectStatus(put, 201);

  const again = await c.request('GET', path, { headers: accept });
  expectStatus(again, 200);
  const body = parseJson(again);
  const list = isRecord(body) && Array.isArray(body['manifests']) ? (body['manifests'] as unknown[]) : [];
  for (const r of refs) expectDescriptor(list, r.expected, `${r.label} (via ${tag})`);
}
