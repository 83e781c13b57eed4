// DELETE of content other content still lists: a manifest an index lists, a blob a
// manifest lists. A registry may delete it or refuse; the spec gives these DELETEs
// 202, 404, and 400 or 405 for a refused deletion, so a refusal must be one of those
// (not 403, 409 or 500), with an error body whose message says why.
import { expect, expectError, expectStatus, isRecord, parseJson } from './assert.ts';
import type { WorkflowContext } from './context.ts';
import type { HttpResponse } from './http.ts';
import { descriptorOf, imageIndex, randomImage, randomTag } from './fixtures.ts';
import { blobPath, manifestPath, pushImage, pushManifest } from './ops.ts';
import { MANIFEST_ACCEPT } from './pull.ts';

function expectAllowedRefusal(res: HttpResponse, what: string): void {
  if (res.status === 202) return;
  expectError(res, [400, 405], []);
  const body = parseJson(res);
  const first = isRecord(body) && Array.isArray(body['errors']) ? (body['errors'][0] as unknown) : undefined;
  const message = isRecord(first) ? first['message'] : undefined;
  expect(typeof message === 'string' && message.length > 0, `the refusal of ${what} carries no message`);
}

export async function runReferencedDeletes(ctx: WorkflowContext): Promise<void> {
  const c = ctx.client;
  const repo = ctx.namespace;
  const image = randomImage([400], { 'conformance.referenced': randomTag('r') });
  const index = imageIndex({ manifests: [descriptorOf(image.manifest)] });

  const pushed = await ctx.check('setup: push an image and an index listing it', async () => {
    await pushImage(c, repo, image);
    await pushManifest(c, repo, index.digest, index);
  });

  await ctx.check('DELETE of a manifest an index lists returns 202, or 400/405 with a message', async () => {
    const res = await c.request('DELETE', manifestPath(repo, image.manifest.digest));
    expectAllowedRefusal(res, 'a listed manifest');
    if (res.status !== 202) expectStatus(await c.request('GET', manifestPath(repo, image.manifest.digest), { headers: { accept: MANIFEST_ACCEPT } }), 200);
  }, [pushed]);

  await ctx.check('DELETE of a blob a manifest lists returns 202, or 400/405 with a message', async () => {
    const layer = image.layers[0]!;
    const res = await c.request('DELETE', blobPath(repo, layer.digest));
    expectAllowedRefusal(res, 'a listed blob');
    if (res.status !== 202) expectStatus(await c.request('HEAD', blobPath(repo, layer.digest)), 200);
  }, [pushed]);
}
