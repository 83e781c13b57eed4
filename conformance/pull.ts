// Pull workflow: API version check, manifests and blobs by tag/digest, ranges, 404s.
import {
  expectBody,
  expectContentLength,
  expectContentType,
  expectDigestHeader,
  expectEqual,
  expectError,
  expectHeader,
  expectStatus,
} from './assert.ts';
import type { WorkflowContext } from './context.ts';
import type { BlobFixture, ManifestFixture } from './fixtures.ts';
import { MEDIA_TYPES, descriptorOf, imageIndex, randomDigest, randomHex, randomImage, randomTag, sha256 } from './fixtures.ts';
import { blobPath, manifestPath, pushImage, pushManifest } from './ops.ts';

export const MANIFEST_ACCEPT = [MEDIA_TYPES.manifest, MEDIA_TYPES.index].join(', ');

export async function runPull(ctx: WorkflowContext): Promise<void> {
  const c = ctx.client;
  const repo = ctx.namespace;
  const image = randomImage([3000, 2500]);
  const tag = randomTag('pull');
  const indexTag = randomTag('pull-index');
  const index = imageIndex({
    manifests: [descriptorOf(image.manifest, { platform: { architecture: 'amd64', os: 'linux' } })],
    annotations: { 'org.opencontainers.image.ref.name': indexTag },
  });
  const layer = image.layers[0] as BlobFixture;

  await ctx.check('GET /v2/ returns 200', async () => {
    const res = await c.request('GET', '/v2/');
    expectStatus(res, 200);
  });

  const pushed = await ctx.check(`setup: push image ${repo}:${tag}`, () => pushImage(c, repo, image, [tag]));
  const pushedIndex = await ctx.check(`setup: push image index ${repo}:${indexTag}`, async () => {
    await pushManifest(c, repo, indexTag, index);
  }, [pushed]);

  const manifestChecks = (label: string, ref: string, m: ManifestFixture): Array<[string, () => Promise<void>]> => [
    [`HEAD manifest by ${label}`, async () => {
      const res = await c.request('HEAD', manifestPath(repo, ref), { headers: { accept: MANIFEST_ACCEPT } });
      expectStatus(res, 200);
      expectDigestHeader(res, m.digest);
      expectContentLength(res, m.size);
      expectContentType(res, m.mediaType);
    }],
    [`GET manifest by ${label}`, async () => {
      const res = await c.request('GET', manifestPath(repo, ref), { headers: { accept: MANIFEST_ACCEPT } });
      expectStatus(res, 200);
      expectBody(res, m.bytes);
      expectDigestHeader(res, sha256(res.body));
      expectContentType(res, m.mediaType);
      expectContentLength(res, m.size);
    }],
  ];
  for (const [name, fn] of [
    ...manifestChecks('tag', tag, image.manifest),
    ...manifestChecks('digest', image.manifest.digest, image.manifest),
  ]) {
    await ctx.check(name, fn, [pushed]);
  }
  for (const [name, fn] of manifestChecks('digest (image index)', index.digest, index)) {
    await ctx.check(name, fn, [pushedIndex]);
  }
  await ctx.check('GET image index by tag', async () => {
    const res = await c.request('GET', manifestPath(repo, indexTag), { headers: { accept: MANIFEST_ACCEPT } });
    expectStatus(res, 200);
    expectBody(res, index.bytes);
    expectContentType(res, MEDIA_TYPES.index);
    expectDigestHeader(res, index.digest);
  }, [pushedIndex]);

  for (const [label, blob] of [['layer', layer], ['config', image.config]] as const) {
    await ctx.check(`HEAD blob (${label})`, async () => {
      const res = await c.request('HEAD', blobPath(repo, blob.digest));
      expectStatus(res, 200);
      expectContentLength(res, blob.size);
      const dcd = res.headers.get('docker-content-digest');
      if (dcd !== null) expectEqual(dcd, blob.digest, 'Docker-Content-Digest');
    }, [pushed]);
    await ctx.check(`GET blob (${label})`, async () => {
      const res = await c.request('GET', blobPath(repo, blob.digest));
      expectStatus(res, 200);
      expectBody(res, blob.bytes);
      const dcd = res.headers.get('docker-content-digest');
      if (dcd !== null) expectEqual(dcd, sha256(res.body), 'Docker-Content-Digest vs body digest');
    }, [pushed]);
  }

  await ctx.check('GET blob with Range bytes=10-109 returns 206 and the slice', async () => {
    const res = await c.request('GET', blobPath(repo, layer.digest), { headers: { range: 'bytes=10-109' } });
    expectStatus(res, 206);
    const cr = expectHeader(res, 'content-range');
    expectEqual(cr.trim(), `bytes 10-109/${layer.size}`, 'Content-Range');
    expectBody(res, layer.bytes.subarray(10, 110));
  }, [pushed]);

  await ctx.check('GET blob with suffix Range bytes=-100 returns the last 100 bytes', async () => {
    const res = await c.request('GET', blobPath(repo, layer.digest), { headers: { range: 'bytes=-100' } });
    expectStatus(res, 206);
    const cr = expectHeader(res, 'content-range');
    expectEqual(cr.trim(), `bytes ${layer.size - 100}-${layer.size - 1}/${layer.size}`, 'Content-Range');
    expectBody(res, layer.bytes.subarray(layer.size - 100));
  }, [pushed]);

  await ctx.check('GET blob with an open-ended Range bytes=2990- returns the tail', async () => {
    const res = await c.request('GET', blobPath(repo, layer.digest), { headers: { range: 'bytes=2990-' } });
    expectStatus(res, 206);
    const cr = expectHeader(res, 'content-range');
    expectEqual(cr.trim(), `bytes 2990-${layer.size - 1}/${layer.size}`, 'Content-Range');
    expectBody(res, layer.bytes.subarray(2990));
  }, [pushed]);

  await ctx.check('GET blob with an unsatisfiable Range returns 416', async () => {
    const start = layer.size + 100;
    const res = await c.request('GET', blobPath(repo, layer.digest), { headers: { range: `bytes=${start}-${start + 10}` } });
    expectStatus(res, 416);
  }, [pushed]);

  await ctx.check('GET manifest for unknown tag returns 404 MANIFEST_UNKNOWN', async () => {
    const res = await c.request('GET', manifestPath(repo, randomTag('missing')), { headers: { accept: MANIFEST_ACCEPT } });
    expectError(res, 404, ['MANIFEST_UNKNOWN']);
  }, [pushed]);

  await ctx.check('HEAD manifest for unknown tag returns 404', async () => {
    const res = await c.request('HEAD', manifestPath(repo, randomTag('missing')), { headers: { accept: MANIFEST_ACCEPT } });
    expectStatus(res, 404);
  }, [pushed]);

  await ctx.check('GET manifest for unknown digest returns 404 MANIFEST_UNKNOWN', async () => {
    const res = await c.request('GET', manifestPath(repo, randomDigest()), { headers: { accept: MANIFEST_ACCEPT } });
    expectError(res, 404, ['MANIFEST_UNKNOWN']);
  }, [pushed]);

  await ctx.check('GET manifest in unknown repository returns 404 (MANIFEST_UNKNOWN or NAME_UNKNOWN)', async () => {
    const res = await c.request('GET', manifestPath(`${repo}-missing-${randomHex(4)}`, 'latest'), {
      headers: { accept: MANIFEST_ACCEPT },
    });
    expectError(res, 404, ['MANIFEST_UNKNOWN', 'NAME_UNKNOWN']);
  });

  await ctx.check('GET unknown blob returns 404 BLOB_UNKNOWN', async () => {
    const res = await c.request('GET', blobPath(repo, randomDigest()));
    expectError(res, 404, ['BLOB_UNKNOWN']);
  }, [pushed]);

  await ctx.check('HEAD unknown blob returns 404', async () => {
    const res = await c.request('HEAD', blobPath(repo, randomDigest()));
    expectStatus(res, 404);
  }, [pushed]);

  await ctx.check('GET blob in unknown repository returns 404 (BLOB_UNKNOWN or NAME_UNKNOWN)', async () => {
    const res = await c.request('GET', blobPath(`${repo}-missing-${randomHex(4)}`, layer.digest));
    expectError(res, 404, ['BLOB_UNKNOWN', 'NAME_UNKNOWN']);
  });

  await ctx.checkApiVersionHeaders();
}
