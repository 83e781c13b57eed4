// Push workflow, chunked and streamed uploads (PATCH), including out-of-order 416.
import { expectBody, expectDigestHeader, expectHeader, expectStatus, expectUploadRange } from './assert.ts';
import type { WorkflowContext } from './context.ts';
import { valueOf } from './context.ts';
import type { BlobFixture } from './fixtures.ts';
import { randomBlob } from './fixtures.ts';
import type { HttpResponse } from './http.ts';
import { OCTET, blobPath, cancelUpload, finishUpload, startUpload, uploadsPath } from './ops.ts';

const DEFAULT_CHUNK = 64 * 1024;

interface ChunkedSession {
  chunkSize: number;
  blob: BlobFixture;
}

/** PATCH one chunk with Content-Range. */
function patchChunk(ctx: WorkflowContext, location: string, bytes: Uint8Array, start: number): Promise<HttpResponse> {
  return ctx.client.request('PATCH', location, {
    body: bytes,
    headers: { ...OCTET, 'content-range': `${start}-${start + bytes.length - 1}` },
  });
}

export async function runPushChunked(ctx: WorkflowContext): Promise<void> {
  const c = ctx.client;
  const repo = ctx.namespace;
  // The upload URL to use next; each response's Location replaces it.
  let location = '';

  const opened = await ctx.check('chunked: POST with Content-Length: 0 returns 202 with Location', async (): Promise<ChunkedSession> => {
    const res = await c.request('POST', uploadsPath(repo), { body: new Uint8Array(0) });
    expectStatus(res, 202);
    location = c.resolve(expectHeader(res, 'location'), res.url);
    const min = Number(res.headers.get('oci-chunk-min-length') ?? '0');
    const chunkSize = Number.isSafeInteger(min) && min > DEFAULT_CHUNK ? min : DEFAULT_CHUNK;
    // Three chunks: two full ones and a shorter final one sent with the closing PUT.
    return { chunkSize, blob: randomBlob(chunkSize * 3 - 123) };
  });

  const first = await ctx.check('chunked: PATCH first chunk with Content-Range returns 202 with Location and Range', async () => {
    const { chunkSize, blob } = valueOf(opened);
    const res = await patchChunk(ctx, location, blob.bytes.subarray(0, chunkSize), 0);
    expectStatus(res, 202);
    location = c.resolve(expectHeader(res, 'location'), res.url);
    expectUploadRange(res, chunkSize - 1);
  }, [opened]);

  const status = await ctx.check('chunked: GET upload status returns 204 with Location and Range', async () => {
    const { chunkSize } = valueOf(opened);
    const res = await c.request('GET', location);
    expectStatus(res, 204);
    location = c.resolve(expectHeader(res, 'location'), res.url);
    expectUploadRange(res, chunkSize - 1);
  }, [first]);

  const second = await ctx.check('chunked: PATCH second chunk returns 202 with Range covering both chunks', async () => {
    const { chunkSize, blob } = valueOf(opened);
    const res = await patchChunk(ctx, location, blob.bytes.subarray(chunkSize, chunkSize * 2), chunkSize);
    expectStatus(res, 202);
    location = c.resolve(expectHeader(res, 'location'), res.url);
    expectUploadRange(res, chunkSize * 2 - 1);
  }, [status]);

  const closed = await ctx.check('chunked: closing PUT with the final chunk in its body returns 201 with Location and Docker-Content-Digest', async () => {
    const { chunkSize, blob } = valueOf(opened);
    const last = blob.bytes.subarray(chunkSize * 2);
    const res = await finishUpload(c, location, blob.digest, last, {
      'content-range': `${chunkSize * 2}-${blob.size - 1}`,
    });
    expectStatus(res, 201);
    expectHeader(res, 'location');
    expectDigestHeader(res, blob.digest);
  }, [second]);

  await ctx.check('chunked: assembled blob has the right content', async () => {
    const { blob } = valueOf(opened);
    const res = await c.request('GET', blobPath(repo, blob.digest));
    expectStatus(res, 200);
    expectBody(res, blob.bytes);
  }, [closed]);

  await ctx.check('chunked: out-of-order PATCH returns 416 and GET status still reports the last good Range', async () => {
    const blob = randomBlob(2048);
    let loc = await startUpload(c, repo);
    try {
      const ok = await patchChunk(ctx, loc, blob.bytes.subarray(0, 1024), 0);
      expectStatus(ok, 202);
      loc = c.resolve(expectHeader(ok, 'location'), ok.url);
      // Skip 24 bytes: the chunk does not start at <end-of-range> + 1.
      const bad = await patchChunk(ctx, loc, blob.bytes.subarray(1048, 2048), 1048);
      expectStatus(bad, 416);
      const st = await c.request('GET', loc);
      expectStatus(st, 204);
      expectUploadRange(st, 1023);
      loc = c.resolve(expectHeader(st, 'location'), st.url);
    } finally {
      await cancelUpload(c, loc);
    }
  });

  await runStreamed(ctx);
}

async function runStreamed(ctx: WorkflowContext): Promise<void> {
  const c = ctx.client;
  const repo = ctx.namespace;
  const blob = randomBlob(200 * 1024 + 17);
  let location = '';

  const patched = await ctx.check('streamed: PATCH without Content-Range (chunked transfer) returns 202 with Range', async () => {
    location = await startUpload(c, repo);
    const pieces: Uint8Array[] = [];
    for (let off = 0; off < blob.size; off += 50_000) pieces.push(blob.bytes.subarray(off, off + 50_000));
    const res = await c.request('PATCH', location, {
      headers: { ...OCTET },
      body: () => new ReadableStream<Uint8Array>({
        start(controller) {
          for (const p of pieces) controller.enqueue(p);
          controller.close();
        },
      }),
    });
    expectStatus(res, 202);
    location = c.resolve(expectHeader(res, 'location'), res.url);
    expectUploadRange(res, blob.size - 1);
  });

  const done = await ctx.check('streamed: closing PUT ?digest= without body returns 201', async () => {
    const res = await finishUpload(c, location, blob.digest, new Uint8Array(0));
    expectStatus(res, 201);
    expectHeader(res, 'location');
    expectDigestHeader(res, blob.digest);
  }, [patched]);

  await ctx.check('streamed: uploaded blob has the right content', async () => {
    const res = await c.request('GET', blobPath(repo, blob.digest));
    expectStatus(res, 200);
    expectBody(res, blob.bytes);
  }, [done]);
}
