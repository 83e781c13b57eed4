// Push workflow, manifest half: PUT by tag/digest, index, and rejected manifests/names.
import { Buffer } from 'node:buffer';
import { expectBody, expectDigestHeader, expectError, expectHeader, expectStatus } from './assert.ts';
import type { WorkflowContext } from './context.ts';
import type { HttpResponse } from './http.ts';
import type { ImageFixture } from './fixtures.ts';
import {
  MEDIA_TYPES,
  descriptorOf,
  imageIndex,
  imageManifest,
  randomBlob,
  randomDigest,
  randomHex,
  randomImage,
  randomTag,
  serialize,
} from './fixtures.ts';
import { blobPath, manifestPath, pushBlob, putManifest, uploadsPath } from './ops.ts';
import { MANIFEST_ACCEPT } from './pull.ts';

export async function runPushManifests(ctx: WorkflowContext): Promise<void> {
  const c = ctx.client;
  const repo = ctx.namespace;
  const first = randomImage([1024]);
  const second = randomImage([1500, 700], { 'org.example.conformance': 'second' });
  const tag = randomTag('push');
  const indexTag = randomTag('push-index');

  const blobs = await ctx.check('setup: push the blobs of two images', async () => {
    for (const img of [first, second] as ImageFixture[]) {
      for (const l of img.layers) await pushBlob(c, repo, l);
      await pushBlob(c, repo, img.config);
    }
  });

  const byTag = await ctx.check('PUT manifest by tag returns 201 with Location and Docker-Content-Digest', async () => {
    const res = await putManifest(c, repo, tag, first.manifest);
    expectStatus(res, 201);
    expectDigestHeader(res, first.manifest.digest);
    return c.resolve(expectHeader(res, 'location'), res.url);
  }, [blobs]);

  await ctx.check('manifest Location returned by the PUT is pullable', async (): Promise<void> => {
    if (byTag.value === undefined) return;
    const res = await c.request('GET', byTag.value, { headers: { accept: MANIFEST_ACCEPT } });
    expectStatus(res, 200);
    expectBody(res, first.manifest.bytes);
  }, [byTag]);

  await ctx.check('manifest pushed by tag is served byte-for-byte', async () => {
    const res = await c.request('GET', manifestPath(repo, tag), { headers: { accept: MANIFEST_ACCEPT } });
    expectStatus(res, 200);
    expectBody(res, first.manifest.bytes);
  }, [byTag]);

  const byDigest = await ctx.check('PUT manifest by digest returns 201 with Location and Docker-Content-Digest', async () => {
    const res = await putManifest(c, repo, second.manifest.digest, second.manifest);
    expectStatus(res, 201);
    expectDigestHeader(res, second.manifest.digest);
    expectHeader(res, 'location');
    const get = await c.request('GET', manifestPath(repo, second.manifest.digest), { headers: { accept: MANIFEST_ACCEPT } });
    expectStatus(get, 200);
    expectBody(get, second.manifest.bytes);
  }, [blobs]);

  await ctx.check('PUT image index whose children exist returns 201', async () => {
    const index = imageIndex({
      manifests: [
        descriptorOf(first.manifest, { platform: { architecture: 'amd64', os: 'linux' } }),
        descriptorOf(second.manifest, { platform: { architecture: 'arm64', os: 'linux' } }),
      ],
    });
    const res = await putManifest(c, repo, indexTag, index);
    expectStatus(res, 201);
    expectDigestHeader(res, index.digest);
    expectHeader(res, 'location');
    const get = await c.request('GET', manifestPath(repo, indexTag), { headers: { accept: MANIFEST_ACCEPT } });
    expectStatus(get, 200);
    expectBody(get, index.bytes);
  }, [byTag, byDigest]);

  // a registry declared sparse (OCI_SPARSE) accepts these; the sparse workflow checks what follows
  const missingAnswer = ctx.sparse ? 'is accepted (201, sparse)' : 'returns 400 MANIFEST_BLOB_UNKNOWN';
  const expectRefused = (res: HttpResponse): void => {
    if (ctx.sparse) expectStatus(res, 201);
    else expectError(res, 400, ['MANIFEST_BLOB_UNKNOWN', 'MANIFEST_INVALID']);
  };
  await ctx.check(`PUT manifest referencing a blob that does not exist ${missingAnswer}`, async () => {
    const missing = randomBlob(512);
    const m = imageManifest({
      config: descriptorOf(first.config),
      layers: [descriptorOf(first.layers[0] ?? missing), descriptorOf(missing)],
    });
    expectRefused(await putManifest(c, repo, randomTag('missing-blob'), m));
  }, [blobs]);

  await ctx.check(`PUT image index referencing a manifest that does not exist ${missingAnswer}`, async () => {
    const index = imageIndex({
      manifests: [{ mediaType: MEDIA_TYPES.manifest, digest: randomDigest(), size: 512 }],
    });
    expectRefused(await putManifest(c, repo, randomTag('missing-child'), index));
  });

  await ctx.check('PUT manifest that is not valid JSON returns 400 MANIFEST_INVALID', async () => {
    const bytes = Buffer.from('{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", ', 'utf8');
    const res = await c.request('PUT', manifestPath(repo, randomTag('invalid-json')), {
      body: bytes,
      headers: { 'content-type': MEDIA_TYPES.manifest },
    });
    expectError(res, 400, ['MANIFEST_INVALID']);
  });

  await ctx.check('PUT manifest missing required fields returns 400 MANIFEST_INVALID', async () => {
    const bogus = serialize({ schemaVersion: 2, mediaType: MEDIA_TYPES.manifest, layers: 'not-an-array' }, MEDIA_TYPES.manifest);
    const res = await putManifest(c, repo, randomTag('invalid-shape'), bogus);
    expectError(res, 400, ['MANIFEST_INVALID']);
  });

  await ctx.check('PUT manifest with an invalid tag (leading "-") returns 400 TAG_INVALID or MANIFEST_INVALID', async () => {
    const res = await putManifest(c, repo, `-invalid-${randomHex(3)}`, first.manifest);
    expectError(res, 400, ['TAG_INVALID', 'MANIFEST_INVALID']);
  }, [blobs]);

  await ctx.check('PUT manifest with a tag longer than 128 characters returns 400 TAG_INVALID or MANIFEST_INVALID', async () => {
    const res = await putManifest(c, repo, `t${'a'.repeat(128)}`, first.manifest);
    expectError(res, 400, ['TAG_INVALID', 'MANIFEST_INVALID']);
  }, [blobs]);

  await ctx.check('POST upload to an invalid repository name returns 400 NAME_INVALID (or 404 NAME_UNKNOWN)', async () => {
    const res = await c.request('POST', uploadsPath(`${repo}/Invalid_UPPER--name`), { body: new Uint8Array(0) });
    if (res.status === 404) {
      expectError(res, 404, ['NAME_UNKNOWN']);
    } else {
      expectError(res, 400, ['NAME_INVALID']);
    }
  });

  await ctx.check('PUT manifest to an invalid repository name returns 400 NAME_INVALID (or 404 NAME_UNKNOWN)', async () => {
    const res = await putManifest(c, `${repo}/bad..name`, 'latest', first.manifest);
    if (res.status === 404) {
      expectError(res, 404, ['NAME_UNKNOWN']);
    } else {
      expectError(res, 400, ['NAME_INVALID']);
    }
  });

  await ctx.check('blobs pushed to one repository are not visible in another', async () => {
    const res = await c.request('HEAD', blobPath(`${repo}-other-${randomHex(4)}`, first.config.digest));
    expectStatus(res, 404);
  }, [blobs]);
}
