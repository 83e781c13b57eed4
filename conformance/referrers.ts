// Referrers workflow: subject processing (OCI-Subject), GET referrers, artifactType filter, fallback tag.
import { Buffer } from 'node:buffer';
import {
  describe,
  expect,
  expectContentType,
  expectEqual,
  expectStatus,
  fail,
  isRecord,
  nextLink,
  parseJson,
} from './assert.ts';
import type { Step, WorkflowContext } from './context.ts';
import { CheckSkip, valueOf } from './context.ts';
import type { Descriptor, ManifestFixture } from './fixtures.ts';
import {
  MEDIA_TYPES,
  artifactManifest,
  blobOf,
  descriptorOf,
  emptyDescriptor,
  imageIndex,
  imageManifest,
  randomBlob,
  randomDigest,
  randomImage,
  randomTag,
} from './fixtures.ts';
import { pushBlob, pushEmptyBlob, pushImage, putManifest } from './ops.ts';
import type { Referrer } from './referrers-fallback.ts';
import { expectDescriptor, referrersFallback } from './referrers-fallback.ts';

const TYPES = {
  sbom: 'application/vnd.conformance.sbom.v1+json',
  signature: 'application/vnd.conformance.signature.v1',
  config: 'application/vnd.conformance.config.v1+json',
  index: 'application/vnd.conformance.bundle.v1',
} as const;

function referrer(label: string, manifest: ManifestFixture, artifactType: string | undefined): Referrer {
  const json = manifest.json;
  const annotations = isRecord(json['annotations']) ? (json['annotations'] as Record<string, string>) : undefined;
  const extra: Partial<Descriptor> = {};
  if (artifactType !== undefined) extra.artifactType = artifactType;
  if (annotations !== undefined) extra.annotations = annotations;
  return { label, manifest, expected: descriptorOf(manifest, extra) };
}

/** Fetches every page of a referrers response and returns its descriptors. */
async function fetchReferrers(ctx: WorkflowContext, digest: string, query = ''): Promise<{ manifests: unknown[]; filters: string | null }> {
  const c = ctx.client;
  let url: string | undefined = c.url(`/v2/${ctx.namespace}/referrers/${digest}`) + query;
  const manifests: unknown[] = [];
  let filters: string | null = null;
  for (let page = 0; url !== undefined; page++) {
    expect(page < 20, 'referrers paging did not terminate after 20 pages');
    const res = await c.request('GET', url);
    if (res.status === 404) fail(`referrers API not available: ${describe(res)}`);
    expectStatus(res, 200);
    expectContentType(res, MEDIA_TYPES.index);
    const body = parseJson(res);
    if (!isRecord(body)) fail(`referrers: expected an image index object, got ${describe(res)}`);
    expectEqual(body['schemaVersion'], 2, 'referrers index schemaVersion');
    if ('mediaType' in body) expectEqual(body['mediaType'], MEDIA_TYPES.index, 'referrers index mediaType');
    const list = body['manifests'];
    if (!Array.isArray(list)) fail(`referrers: "manifests" must be an array, got ${JSON.stringify(list)}`);
    manifests.push(...(list as unknown[]));
    if (page === 0) filters = res.headers.get('oci-filters-applied');
    const next = nextLink(res);
    url = next === undefined ? undefined : c.resolve(next, res.url);
  }
  return { manifests, filters };
}

export async function runReferrers(ctx: WorkflowContext): Promise<void> {
  const c = ctx.client;
  const repo = ctx.namespace;
  const subject = randomImage([1024]);
  const subjectDesc = descriptorOf(subject.manifest);
  const sbomLayer = randomBlob(700, 'application/spdx+json');
  const customConfig = blobOf(Buffer.from('{"conformance":true}', 'utf8'), TYPES.config);

  const refs: Referrer[] = [
    referrer('sbom artifact', artifactManifest({
      artifactType: TYPES.sbom,
      subject: subjectDesc,
      layers: [sbomLayer],
      annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'org.example.sbom.format': 'json' },
    }), TYPES.sbom),
    referrer('signature artifact', artifactManifest({
      artifactType: TYPES.signature,
      subject: subjectDesc,
      annotations: { 'org.example.signature.fingerprint': 'abcd' },
    }), TYPES.signature),
    referrer('manifest without artifactType (config mediaType used)', imageManifest({
      config: descriptorOf(customConfig),
      layers: [emptyDescriptor()],
      subject: subjectDesc,
      annotations: { 'org.example.kind': 'config-typed' },
    }), TYPES.config),
    referrer('image index referrer', imageIndex({
      manifests: [],
      artifactType: TYPES.index,
      subject: subjectDesc,
      annotations: { 'org.example.kind': 'index' },
    }), TYPES.index),
  ];

  const setup = await ctx.check('setup: push subject image and artifact blobs', async () => {
    await pushImage(c, repo, subject, [randomTag('ref-subject')]);
    await pushEmptyBlob(c, repo);
    await pushBlob(c, repo, sbomLayer);
    await pushBlob(c, repo, customConfig);
  });

  const pushes: Array<Step<string | null>> = [];
  for (const r of refs) {
    pushes.push(await ctx.check(`PUT ${r.label} with subject returns 201`, async () => {
      const res = await putManifest(c, repo, r.manifest.digest, r.manifest);
      expectStatus(res, 201);
      return res.headers.get('oci-subject');
    }, [setup]));
  }

  const subjectHeader = await ctx.check('PUT of a manifest with subject returns OCI-Subject: <subject digest>', async () => {
    const bad = pushes.filter((p) => p.value !== subject.manifest.digest);
    if (bad.length > 0) {
      fail(`OCI-Subject: expected ${JSON.stringify(subject.manifest.digest)}, got ${bad.map((p) => JSON.stringify(p.value ?? null)).join(', ')}; clients must fall back to the referrers tag schema`);
    }
  }, pushes);

  await ctx.check('referrers tag schema fallback (client-maintained index, used when OCI-Subject is absent)', async () => {
    if (subjectHeader.ok) throw new CheckSkip('not needed: the registry returned OCI-Subject');
    await referrersFallback(ctx, subject.manifest.digest, refs);
  }, pushes);

  const listed = await ctx.check('GET /v2/<name>/referrers/<digest> returns 200 with an image index', async () => {
    return (await fetchReferrers(ctx, subject.manifest.digest)).manifests;
  }, pushes);

  for (const r of refs) {
    await ctx.check(`referrers list has the ${r.label} with mediaType, size, digest, artifactType and annotations`, async () => {
      expectDescriptor(valueOf(listed), r.expected, r.label);
    }, [listed]);
  }

  await ctx.check('referrers list contains only manifests whose subject is the digest', async () => {
    const digests = valueOf(listed).map((d) => (isRecord(d) ? d['digest'] : undefined));
    const ours = new Set(refs.map((r) => r.manifest.digest));
    const extra = digests.filter((d) => typeof d !== 'string' || !ours.has(d));
    expect(extra.length === 0, `unexpected referrers: ${JSON.stringify(extra)}`);
    expectEqual(digests.length, refs.length, 'number of referrers');
  }, [listed]);

  await ctx.check('referrers ?artifactType= returns only matching descriptors with OCI-Filters-Applied: artifactType', async () => {
    const { manifests, filters } = await fetchReferrers(ctx, subject.manifest.digest, `?artifactType=${encodeURIComponent(TYPES.sbom)}`);
    const applied = (filters ?? '').split(',').map((s) => s.trim());
    expect(applied.includes('artifactType'), `expected OCI-Filters-Applied: artifactType, got ${JSON.stringify(filters)}`);
    expectEqual(manifests.length, 1, 'number of filtered referrers');
    expectDescriptor(manifests, (refs[0] as Referrer).expected, 'sbom artifact');
  }, [listed]);

  await ctx.check('referrers for a digest with no referrers returns 200 with empty manifests', async () => {
    const { manifests } = await fetchReferrers(ctx, randomDigest());
    expectEqual(manifests.length, 0, 'number of referrers');
  });

  const absent = randomImage([256]);
  const orphan = referrer('referrer of a missing subject', artifactManifest({
    artifactType: TYPES.signature,
    subject: descriptorOf(absent.manifest),
    annotations: { 'org.example.kind': 'orphan' },
  }), TYPES.signature);
  const orphanPut = await ctx.check('PUT a manifest whose subject does not exist returns 201', async () => {
    const res = await putManifest(c, repo, orphan.manifest.digest, orphan.manifest);
    expectStatus(res, 201);
  }, [setup]);

  await ctx.check('referrers of the missing subject list the manifest pushed before it', async () => {
    const { manifests } = await fetchReferrers(ctx, absent.manifest.digest);
    expectDescriptor(manifests, orphan.expected, orphan.label);
  }, [orphanPut]);

  await ctx.check('referrers with an invalid digest returns 400', async () => {
    const res = await c.request('GET', `/v2/${repo}/referrers/sha256:not-a-valid-digest`);
    expectStatus(res, 400);
  });

  await ctx.checkApiVersionHeaders();
}
