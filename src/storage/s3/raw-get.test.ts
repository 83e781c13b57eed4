// The lean range GET against a local HTTP server: exact bytes on the happy path,
// RawGetUnsupported (so the caller falls back to the SDK) on anything else.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { rawGetRange, RawGetUnsupported } from './raw-get.ts';

const body = randomBytes(3 * 1024 * 1024 + 17);
let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
    const mode = new URL(req.url ?? '/', 'http://x').searchParams.get('mode');
    if (mode === 'error') return void res.writeHead(503).end('<Error><Code>SlowDown</Code></Error>');
    if (mode === 'chunked') return void res.writeHead(206, { 'Content-Range': `bytes 0-9/${body.length}` }).end(body.subarray(0, 10));
    const start = Number(m?.[1]);
    const end = Math.min(Number(m?.[2]), body.length - 1);
    if (mode === 'short') {
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${body.length}`, 'Content-Length': end - start + 1 });
      return void res.end(body.subarray(start, start + 100), () => res.destroy());
    }
    res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${body.length}`, 'Content-Length': end - start + 1 });
    res.end(body.subarray(start, end + 1));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}/bucket/key?X-Amz-Signature=abc`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const get = (mode: string | null, start: number, end: number, reuse: Buffer | null = null) => {
  const url = new URL(base);
  if (mode) url.searchParams.set('mode', mode);
  return rawGetRange(url, start, end, new AbortController().signal, 5000, reuse);
};

test('reads the range, cut short at the end of the object, into a reused buffer when it fits', async () => {
  const a = await get(null, 5, 2 * 1024 * 1024);
  expect(a.data.equals(body.subarray(5, 2 * 1024 * 1024 + 1))).toBe(true);
  expect(a.total).toBe(body.length);
  const b = await get(null, 3 * 1024 * 1024, 4 * 1024 * 1024, a.buffer);
  expect(b.buffer).toBe(a.buffer);
  expect(b.data.equals(body.subarray(3 * 1024 * 1024))).toBe(true);
});

test('anything but a plain 206 of the asked range is left to the SDK', async () => {
  for (const mode of ['error', 'chunked', 'short']) await expect(get(mode, 0, 1000)).rejects.toBeInstanceOf(RawGetUnsupported);
  await expect(rawGetRange(new URL('https://example.invalid/x'), 0, 1, new AbortController().signal, 1000)).rejects.toBeInstanceOf(RawGetUnsupported);
});

test('an abort stops the read', async () => {
  const abort = new AbortController();
  const p = rawGetRange(new URL(base), 0, body.length - 1, abort.signal, 5000);
  abort.abort();
  await expect(p).rejects.toThrow(/aborted/);
});
