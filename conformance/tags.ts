// Tag parameters: PUT /v2/<name>/manifests/<digest>?tag=<tag>&tag=<tag> (spec main,
// "Pushing Manifests with tags"). A registry that supports them returns one OCI-Tag
// value per accepted tag (RFC 9110 list syntax: several headers or comma-joined).
import { describe, expect, expectError, expectStatus } from './assert.ts';
import type { WorkflowContext } from './context.ts';
import { CheckSkip } from './context.ts';
import type { HttpResponse } from './http.ts';
import { randomImage, randomTag, type ManifestFixture } from './fixtures.ts';
import { manifestPath, pushBlob } from './ops.ts';
import { MANIFEST_ACCEPT } from './pull.ts';

/** The OCI-Tag values of a response, split on commas. */
export function ociTags(res: HttpResponse): string[] {
  const h = res.headers.get('oci-tag');
  return h === null ? [] : h.split(',').map((t) => t.trim()).filter((t) => t !== '');
}

function putWithTags(ctx: WorkflowContext, m: ManifestFixture, digest: string, tags: readonly string[]): Promise<HttpResponse> {
  const query = tags.map((t) => `tag=${encodeURIComponent(t)}`).join('&');
  return ctx.client.request('PUT', `${manifestPath(ctx.namespace, digest)}?${query}`, {
    body: m.bytes,
    headers: { 'content-type': m.mediaType },
  });
}

export async function runTags(ctx: WorkflowContext): Promise<void> {
  const c = ctx.client;
  const repo = ctx.namespace;
  const image = randomImage([700], { 'conformance.tags': randomTag('t') });
  const m = image.manifest;
  const tags = [randomTag('param-a'), randomTag('param-b')];

  const blobs = await ctx.check('setup: push the layer and config', async () => {
    for (const b of [...image.layers, image.config]) await pushBlob(c, repo, b);
  });

  const tagged = await ctx.check('PUT manifest by digest with ?tag= twice returns 201 and OCI-Tag naming each tag', async () => {
    const res = await putWithTags(ctx, m, m.digest, tags);
    expectStatus(res, 201);
    const seen = ociTags(res);
    if (seen.length === 0) throw new CheckSkip('no OCI-Tag header: the registry does not support tag parameters');
    for (const t of tags) expect(seen.includes(t), `OCI-Tag ${JSON.stringify(seen)} lacks ${t}`);
  }, [blobs]);

  await ctx.check('each tag of the parameters resolves to the pushed digest', async () => {
    for (const t of tags) {
      const res = await c.request('GET', manifestPath(repo, t), { headers: { accept: MANIFEST_ACCEPT } });
      expectStatus(res, 200);
      expect(res.headers.get('docker-content-digest') === m.digest, `${t} answers ${res.headers.get('docker-content-digest')}`);
    }
  }, [tagged]);

  await ctx.check('at least 10 tag parameters in one request are all accepted', async () => {
    const ten = Array.from({ length: 10 }, () => randomTag('ten'));
    const res = await putWithTags(ctx, m, m.digest, ten);
    expectStatus(res, 201);
    const seen = ociTags(res);
    for (const t of ten) expect(seen.includes(t), `OCI-Tag lacks ${t}: ${describe(res)}`);
  }, [tagged]);

  await ctx.check('a tag parameter outside the tag grammar returns 400 TAG_INVALID and creates nothing', async () => {
    const other = randomImage([300]);
    for (const b of [...other.layers, other.config]) await pushBlob(c, repo, b);
    const good = randomTag('good');
    expectError(await putWithTags(ctx, other.manifest, other.manifest.digest, [good, '-not-a-tag']), 400, ['TAG_INVALID']);
    expectError(await c.request('GET', manifestPath(repo, good), { headers: { accept: MANIFEST_ACCEPT } }), 404, ['MANIFEST_UNKNOWN']);
    const byDigest = await c.request('GET', manifestPath(repo, other.manifest.digest), { headers: { accept: MANIFEST_ACCEPT } });
    expectError(byDigest, 404, ['MANIFEST_UNKNOWN']);
  }, [tagged]);

  await ctx.checkApiVersionHeaders();
}
