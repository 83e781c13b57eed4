// Content management workflow: delete tags, manifests and blobs.
import { expect, expectError, expectStatus, isRecord, parseJson } from './assert.ts';
import type { WorkflowContext } from './context.ts';
import { CheckSkip } from './context.ts';
import type { HttpResponse } from './http.ts';
import { randomBlob, randomDigest, randomImage, randomTag } from './fixtures.ts';
import { blobPath, manifestPath, pushBlob, pushImage } from './ops.ts';
import { MANIFEST_ACCEPT } from './pull.ts';
import { runReferencedDeletes } from './management-referenced.ts';

/**
 * The spec lets a registry disable deletion by answering 400 or 405; that is
 * reported as a skip (with the error code seen). Anything else must be 202.
 */
function expectDeleteAccepted(res: HttpResponse, what: string): void {
  if (res.status === 400 || res.status === 405) {
    let codes: string[] = [];
    try {
      const body = JSON.parse(res.body.toString('utf8')) as unknown;
      if (isRecord(body) && Array.isArray(body['errors'])) {
        codes = (body['errors'] as unknown[]).map((e) => (isRecord(e) ? String(e['code']) : '?'));
      }
    } catch {
      // not JSON
    }
    const suffix = codes.length > 0 ? ` ${codes.join(', ')}` : '';
    throw new CheckSkip(`registry reports ${what} as disabled (${res.status}${suffix}), which the spec allows`);
  }
  expectStatus(res, 202);
}

async function listTags(ctx: WorkflowContext): Promise<string[]> {
  const res = await ctx.client.request('GET', `/v2/${ctx.namespace}/tags/list`);
  if (res.status === 404) {
    expectError(res, 404, ['NAME_UNKNOWN']);
    return [];
  }
  expectStatus(res, 200);
  const body = parseJson(res);
  const tags = isRecord(body) ? body['tags'] : undefined;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}

export async function runManagement(ctx: WorkflowContext): Promise<void> {
  const c = ctx.client;
  const repo = ctx.namespace;
  const image = randomImage([900]);
  const digest = image.manifest.digest;
  const tagA = randomTag('mgmt-a');
  const tagB = randomTag('mgmt-b');
  const loose = randomBlob(1500);
  const get = (ref: string): Promise<HttpResponse> =>
    c.request('GET', manifestPath(repo, ref), { headers: { accept: MANIFEST_ACCEPT } });

  const pushed = await ctx.check(`setup: push an image tagged ${tagA} and ${tagB}`, () => pushImage(c, repo, image, [tagA, tagB]));
  const blobPushed = await ctx.check('setup: push a blob to delete', () => pushBlob(c, repo, loose));

  const tagDeleted = await ctx.check('DELETE manifest by tag returns 202', async () => {
    expectDeleteAccepted(await c.request('DELETE', manifestPath(repo, tagA)), 'tag deletion');
  }, [pushed]);

  await ctx.check('deleted tag returns 404 while the manifest and its other tag remain', async () => {
    expectError(await get(tagA), 404, ['MANIFEST_UNKNOWN']);
    expectStatus(await get(digest), 200);
    expectStatus(await get(tagB), 200);
  }, [tagDeleted]);

  await ctx.check('deleted tag is gone from tags/list', async () => {
    const tags = await listTags(ctx);
    expect(!tags.includes(tagA), `${tagA} still listed`);
    expect(tags.includes(tagB), `${tagB} missing from ${JSON.stringify(tags)}`);
  }, [tagDeleted]);

  const manifestDeleted = await ctx.check('DELETE manifest by digest returns 202', async () => {
    expectDeleteAccepted(await c.request('DELETE', manifestPath(repo, digest)), 'manifest deletion');
  }, [pushed]);

  await ctx.check('deleted manifest returns 404 MANIFEST_UNKNOWN by digest (GET and HEAD)', async () => {
    expectError(await get(digest), 404, ['MANIFEST_UNKNOWN']);
    const head = await c.request('HEAD', manifestPath(repo, digest), { headers: { accept: MANIFEST_ACCEPT } });
    expectStatus(head, 404);
  }, [manifestDeleted]);

  await ctx.check('tags of a deleted manifest return 404 and are gone from tags/list', async () => {
    expectError(await get(tagB), 404, ['MANIFEST_UNKNOWN']);
    const tags = await listTags(ctx);
    expect(!tags.includes(tagB), `${tagB} still listed after its manifest was deleted`);
  }, [manifestDeleted]);

  const blobDeleted = await ctx.check('DELETE blob returns 202', async () => {
    expectDeleteAccepted(await c.request('DELETE', blobPath(repo, loose.digest)), 'blob deletion');
  }, [blobPushed]);

  await ctx.check('deleted blob returns 404 BLOB_UNKNOWN (GET and HEAD)', async () => {
    expectError(await c.request('GET', blobPath(repo, loose.digest)), 404, ['BLOB_UNKNOWN']);
    expectStatus(await c.request('HEAD', blobPath(repo, loose.digest)), 404);
  }, [blobDeleted]);

  await ctx.check('DELETE unknown manifest digest returns 404 MANIFEST_UNKNOWN', async () => {
    const res = await c.request('DELETE', manifestPath(repo, randomDigest()));
    if (res.status === 405) throw new CheckSkip('registry does not support manifest deletion (405)');
    expectError(res, 404, ['MANIFEST_UNKNOWN']);
  }, [pushed]);

  await ctx.check('DELETE unknown blob returns 404 BLOB_UNKNOWN', async () => {
    const res = await c.request('DELETE', blobPath(repo, randomDigest()));
    if (res.status === 405) throw new CheckSkip('registry does not support blob deletion (405)');
    expectError(res, 404, ['BLOB_UNKNOWN']);
  }, [blobPushed]);

  await runReferencedDeletes(ctx);
  await ctx.checkApiVersionHeaders();
}
