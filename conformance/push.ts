// Push workflow, blob half: monolithic, single-POST, chunked, streamed, errors, cancel, mount.
import { randomUUID } from 'node:crypto';
import {
  expectBody,
  expectDigestHeader,
  expectEqual,
  expectError,
  expectHeader,
  expectStatus,
} from './assert.ts';
import type { Step, WorkflowContext } from './context.ts';
import { valueOf } from './context.ts';
import { withQuery } from './http.ts';
import type { BlobFixture } from './fixtures.ts';
import { randomBlob, randomDigest, randomHex } from './fixtures.ts';
import { OCTET, blobPath, cancelUpload, finishUpload, startUpload, uploadsPath } from './ops.ts';
import { runPushChunked } from './push-chunked.ts';
import { runPushManifests } from './push-manifests.ts';

export async function runPush(ctx: WorkflowContext): Promise<void> {
  const c = ctx.client;
  const repo = ctx.namespace;
  const monolithic = randomBlob(4096);
  const singlePost = randomBlob(3072);

  const session = await ctx.check('POST blob upload session returns 202 with Location', async () => {
    return startUpload(c, repo);
  });

  const monoPut = await ctx.check('monolithic PUT <location>?digest= returns 201 with Location and Docker-Content-Digest', async () => {
    const res = await finishUpload(c, valueOf(session), monolithic.digest, monolithic.bytes);
    expectStatus(res, 201);
    expectDigestHeader(res, monolithic.digest);
    return c.resolve(expectHeader(res, 'location'), res.url);
  }, [session]);

  await ctx.check('blob Location returned by the upload is pullable', async () => {
    const res = await c.request('GET', valueOf(monoPut));
    expectStatus(res, 200);
    expectBody(res, monolithic.bytes);
  }, [monoPut]);

  await ctx.check('monolithically uploaded blob is served by GET /v2/<name>/blobs/<digest>', async () => {
    const res = await c.request('GET', blobPath(repo, monolithic.digest));
    expectStatus(res, 200);
    expectBody(res, monolithic.bytes);
  }, [monoPut]);

  const single = await ctx.check('single POST ?digest= with body returns 201 (or 202 and PUT completes with 201)', async () => {
    const res = await c.request('POST', withQuery(c.url(uploadsPath(repo)), { digest: singlePost.digest }), {
      body: singlePost.bytes,
      headers: { ...OCTET },
    });
    expectStatus(res, [201, 202]);
    const loc = c.resolve(expectHeader(res, 'location'), res.url);
    if (res.status === 202) {
      const put = await finishUpload(c, loc, singlePost.digest, singlePost.bytes);
      expectStatus(put, 201);
      expectHeader(put, 'location');
    }
    const get = await c.request('GET', blobPath(repo, singlePost.digest));
    expectStatus(get, 200);
    expectBody(get, singlePost.bytes);
  });

  await runPushChunked(ctx);

  await ctx.check('PUT with a digest that does not match the content returns 400 DIGEST_INVALID', async () => {
    const blob = randomBlob(1024);
    const loc = await startUpload(c, repo);
    try {
      const res = await finishUpload(c, loc, randomDigest(), blob.bytes);
      expectError(res, 400, ['DIGEST_INVALID']);
    } finally {
      await cancelUpload(c, loc);
    }
    const head = await c.request('HEAD', blobPath(repo, blob.digest));
    expectEqual(head.status, 404, 'HEAD of the blob whose upload was rejected: status');
  });

  await ctx.check('DELETE upload session returns 204, then GET on it returns 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const loc = await startUpload(c, repo);
    const del = await c.request('DELETE', loc);
    expectStatus(del, 204);
    const get = await c.request('GET', loc);
    expectError(get, 404, ['BLOB_UPLOAD_UNKNOWN']);
  });

  await ctx.check('GET on a made-up upload session URL returns 404 BLOB_UPLOAD_UNKNOWN (or BLOB_UPLOAD_INVALID)', async () => {
    // Upload locations are opaque, so a fabricated one may be reported as unknown or invalid.
    const res = await c.request('GET', `${uploadsPath(repo)}${randomUUID()}`);
    expectError(res, 404, ['BLOB_UPLOAD_UNKNOWN', 'BLOB_UPLOAD_INVALID']);
  });

  await runMounts(ctx, monolithic, monoPut, singlePost, single);
  await runPushManifests(ctx);
  await ctx.checkApiVersionHeaders();
}

async function runMounts(
  ctx: WorkflowContext,
  present: BlobFixture,
  presentStep: Step<unknown>,
  other: BlobFixture,
  otherStep: Step<unknown>,
): Promise<void> {
  const c = ctx.client;
  const source = ctx.namespace;
  const target = ctx.crossmountNamespace;

  const mounted = await ctx.check(`cross-repository mount (?mount=&from=${source}) into ${target} returns 201 with Location`, async () => {
    const res = await c.request('POST', withQuery(c.url(uploadsPath(target)), { mount: present.digest, from: source }), {
      body: new Uint8Array(0),
    });
    expectStatus(res, 201);
    const loc = expectHeader(res, 'location');
    const dcd = res.headers.get('docker-content-digest');
    if (dcd !== null) expectEqual(dcd, present.digest, 'Docker-Content-Digest');
    const get = await c.request('GET', c.resolve(loc, res.url));
    expectStatus(get, 200);
    expectBody(get, present.bytes);
  }, [presentStep]);

  await ctx.check('mounted blob is served from the target repository', async () => {
    const res = await c.request('GET', blobPath(target, present.digest));
    expectStatus(res, 200);
    expectBody(res, present.bytes);
  }, [mounted]);

  await ctx.check('mount of a blob the source repository lacks returns 202 with an upload Location', async () => {
    const res = await c.request('POST', withQuery(c.url(uploadsPath(target)), { mount: randomDigest(), from: source }), {
      body: new Uint8Array(0),
    });
    expectStatus(res, 202);
    const loc = c.resolve(expectHeader(res, 'location'), res.url);
    await cancelUpload(c, loc);
  });

  await ctx.check('mount from a repository that does not exist returns 202 with an upload Location', async () => {
    const res = await c.request('POST', withQuery(c.url(uploadsPath(target)), {
      mount: other.digest,
      from: `${source}-absent-${randomHex(4)}`,
    }), { body: new Uint8Array(0) });
    // The spec lets a registry ignore `from` and mount any blob it can find, so 201 is also acceptable.
    expectStatus(res, [201, 202]);
    const loc = c.resolve(expectHeader(res, 'location'), res.url);
    if (res.status === 202) await cancelUpload(c, loc);
  }, [otherStep]);

  await ctx.check('mount without from returns 201 (mounted) or 202 (upload session)', async () => {
    const res = await c.request('POST', withQuery(c.url(uploadsPath(`${target}-nofrom`)), { mount: other.digest }), {
      body: new Uint8Array(0),
    });
    expectStatus(res, [201, 202]);
    const loc = c.resolve(expectHeader(res, 'location'), res.url);
    if (res.status === 202) {
      await cancelUpload(c, loc);
    } else {
      const get = await c.request('GET', blobPath(`${target}-nofrom`, other.digest));
      expectStatus(get, 200);
    }
  }, [otherStep]);
}
