// Sparse manifests (spec main: a registry MAY reject a manifest whose descriptors name
// content it lacks, so it MAY accept it). Run only against a registry that accepts
// them (OCI_SPARSE=1). What is absent answers 404 until pushed; once pushed, the
// manifest holds it as it holds any content it lists, so deleting it is refused.
import { expectError, expectStatus } from './assert.ts';
import type { WorkflowContext } from './context.ts';
import { descriptorOf, imageIndex, imageManifest, randomBlob, randomImage, randomTag, type ManifestFixture } from './fixtures.ts';
import { blobPath, manifestPath, pushBlob, pushManifest } from './ops.ts';
import { MANIFEST_ACCEPT } from './pull.ts';

export async function runSparse(ctx: WorkflowContext): Promise<void> {
  const c = ctx.client;
  const repo = ctx.namespace;
  const get = (ref: string) => c.request('GET', manifestPath(repo, ref), { headers: { accept: MANIFEST_ACCEPT } });
  const del = (ref: string) => c.request('DELETE', manifestPath(repo, ref));
  const image = randomImage([600], { 'conformance.sparse': randomTag('s') });
  const missing = randomBlob(900); // a non-distributable layer the mirror leaves out
  const sparseImage = imageManifest({ config: descriptorOf(image.config), layers: [descriptorOf(image.layers[0]!), descriptorOf(missing)] });

  const imagePushed = await ctx.check('an image manifest naming a layer the repository lacks is accepted (201)', async () => {
    for (const b of [image.config, ...image.layers]) await pushBlob(c, repo, b);
    await pushManifest(c, repo, randomTag('sparse-image'), sparseImage);
  });

  await ctx.check('the sparse image pulls; its absent layer answers 404 BLOB_UNKNOWN', async () => {
    expectStatus(await get(sparseImage.digest), 200);
    expectError(await c.request('GET', blobPath(repo, missing.digest)), 404, ['BLOB_UNKNOWN']);
  }, [imagePushed]);

  await ctx.check('the absent layer pushed later pulls, and the manifest now holds it (DELETE refused with 400 or 405)', async () => {
    await pushBlob(c, repo, missing);
    expectStatus(await c.request('GET', blobPath(repo, missing.digest)), 200);
    expectError(await c.request('DELETE', blobPath(repo, missing.digest)), [400, 405], []);
  }, [imagePushed]);

  const present = randomImage([200], { platform: 'amd64' });
  const absent = randomImage([200], { platform: 'arm64' });
  const tag = randomTag('sparse-index');
  const platform = (m: ManifestFixture, architecture: string) => descriptorOf(m, { platform: { architecture, os: 'linux' } });
  const index = imageIndex({ manifests: [platform(present.manifest, 'amd64'), platform(absent.manifest, 'arm64')] });

  const indexPushed = await ctx.check('an index with one of its platforms is accepted and listed under its tag', async () => {
    for (const b of [present.config, ...present.layers]) await pushBlob(c, repo, b);
    await pushManifest(c, repo, present.manifest.digest, present.manifest);
    await pushManifest(c, repo, tag, index);
    expectStatus(await get(tag), 200);
    const list = await c.request('GET', `/v2/${repo}/tags/list`);
    expectStatus(list, 200);
    if (!list.body.toString('utf8').includes(`"${tag}"`)) throw new Error(`${tag} missing from tags/list`);
  });

  await ctx.check('the absent platform answers 404 MANIFEST_UNKNOWN until pushed', async () => {
    expectError(await get(absent.manifest.digest), 404, ['MANIFEST_UNKNOWN']);
  }, [indexPushed]);

  const childPushed = await ctx.check('the absent platform pushed later pulls, and the index holds it (DELETE refused with 400 or 405)', async () => {
    for (const b of [absent.config, ...absent.layers]) await pushBlob(c, repo, b);
    await pushManifest(c, repo, absent.manifest.digest, absent.manifest);
    expectStatus(await get(absent.manifest.digest), 200);
    expectError(await del(absent.manifest.digest), [400, 405], []);
  }, [indexPushed]);

  await ctx.check('after the index is deleted both platforms can be deleted (202)', async () => {
    expectStatus(await del(index.digest), 202);
    expectError(await get(tag), 404, ['MANIFEST_UNKNOWN']);
    expectStatus(await del(absent.manifest.digest), 202);
    expectStatus(await del(present.manifest.digest), 202);
  }, [childPushed]);

  await ctx.checkApiVersionHeaders();
}
