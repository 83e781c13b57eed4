// sha512 data: blobs and manifests pushed and addressed by sha512 digests. The
// spec lets a client name content in any algorithm the registry supports; what a
// tag answers is the digest it was pushed with, and a DELETE by a digest removes
// the content it names, so nothing deleted still holds what it listed.
import { describe, expect, expectError, expectStatus } from './assert.ts';
import type { WorkflowContext } from './context.ts';
import { CheckSkip } from './context.ts';
import type { HttpResponse } from './http.ts';
import { asSha512, descriptorOf, imageIndex, imageManifest, randomImage, randomTag, sha512, type ManifestFixture } from './fixtures.ts';
import { blobPath, finishUpload, manifestPath, pushBlob, startUpload } from './ops.ts';
import { MANIFEST_ACCEPT } from './pull.ts';

function deleteRefusedOrAccepted(res: HttpResponse): void {
  if (res.status === 400 || res.status === 405) throw new CheckSkip(`deletion refused (${res.status}), which the spec allows`);
  expectStatus(res, 202);
}

export async function runDigests(ctx: WorkflowContext): Promise<void> {
  const c = ctx.client;
  const repo = ctx.namespace;
  const image = randomImage([800], { 'conformance.digests': randomTag('d') });
  const layer = asSha512(image.layers[0]!);
  const config = asSha512(image.config);
  const get = (ref: string) => c.request('GET', manifestPath(repo, ref), { headers: { accept: MANIFEST_ACCEPT } });
  const put = (ref: string, m: ManifestFixture) => c.request('PUT', manifestPath(repo, ref), { body: m.bytes, headers: { 'content-type': m.mediaType } });

  const blobs = await ctx.check('push blobs by sha512 digest returns 201', async () => {
    const location = await startUpload(c, repo);
    const res = await finishUpload(c, location, layer.digest, layer.bytes);
    if (res.status === 400) throw new CheckSkip(`sha512 blob refused (${describe(res)}): the registry does not support sha512`);
    expectStatus(res, 201);
    await pushBlob(c, repo, config);
    expectStatus(await c.request('HEAD', blobPath(repo, layer.digest)), 200);
  });

  const manifest = imageManifest({ config: descriptorOf(config), layers: [descriptorOf(layer)] });
  const tag = randomTag('sha512');
  const pushed = await ctx.check('PUT manifest by sha512 digest with ?tag= returns 201 with that digest', async () => {
    const res = await put(`${sha512(manifest.bytes)}?tag=${tag}`, manifest);
    expectStatus(res, 201);
    expect(res.headers.get('docker-content-digest') === sha512(manifest.bytes), `Docker-Content-Digest ${res.headers.get('docker-content-digest')}`);
  }, [blobs]);

  await ctx.check('a tag pushed by sha512 answers Docker-Content-Digest in sha512', async () => {
    const res = await get(tag);
    expectStatus(res, 200);
    expect(res.headers.get('docker-content-digest') === sha512(manifest.bytes), `${tag} answers ${res.headers.get('docker-content-digest')}`);
  }, [pushed]);

  await ctx.check('GET manifest by sha512 digest returns it with that digest', async () => {
    const res = await get(sha512(manifest.bytes));
    expectStatus(res, 200);
    expect(Buffer.compare(res.body, manifest.bytes) === 0, 'body differs from the pushed bytes');
    expect(res.headers.get('docker-content-digest') === sha512(manifest.bytes), `answers ${res.headers.get('docker-content-digest')}`);
  }, [pushed]);

  const index = imageIndex({ manifests: [{ ...descriptorOf(manifest), digest: sha512(manifest.bytes) }] });
  const indexed = await ctx.check('PUT an index listing a child by sha512, by its sha256 and its sha512 digest', async () => {
    expectStatus(await put(index.digest, index), 201);
    expectStatus(await put(sha512(index.bytes), index), 201);
  }, [pushed]);

  const indexGone = await ctx.check('DELETE the index by sha512 returns 202, and it is gone by that digest', async () => {
    deleteRefusedOrAccepted(await c.request('DELETE', manifestPath(repo, sha512(index.bytes))));
    expectError(await get(sha512(index.bytes)), 404, ['MANIFEST_UNKNOWN']);
  }, [indexed]);

  await ctx.check('after the index is deleted its child is no longer held: DELETE by sha512 returns 202', async () => {
    deleteRefusedOrAccepted(await c.request('DELETE', manifestPath(repo, sha512(manifest.bytes))));
    expectError(await get(sha512(manifest.bytes)), 404, ['MANIFEST_UNKNOWN']);
    expectError(await get(tag), 404, ['MANIFEST_UNKNOWN']);
  }, [indexGone]);

  await ctx.check('after its manifest is deleted a blob is no longer held: DELETE by sha512 returns 202', async () => {
    const res = await c.request('DELETE', blobPath(repo, layer.digest));
    deleteRefusedOrAccepted(res);
    expectError(await c.request('GET', blobPath(repo, layer.digest)), 404, ['BLOB_UNKNOWN']);
  }, [indexGone]);

  await ctx.checkApiVersionHeaders();
}
