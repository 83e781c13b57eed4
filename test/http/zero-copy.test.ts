// Blob pulls from the filesystem store go out with sendfile(2) through the
// native addon (src/http/zero-copy.ts): exact bytes, ranges, keep-alive after
// the body, a client that leaves mid-body, a stored file of the wrong size.
// Small bodies, BOLLARD_ZERO_COPY=off and S3 go through the copy path.
import { createHash } from 'node:crypto';
import { truncate } from 'node:fs/promises';
import { Agent, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { zeroCopyAddon, zeroCopyStats, ZERO_COPY_MIN_BYTES } from '../../src/http/zero-copy.ts';
import { objectPath } from '../../src/storage/keys.ts';
import type { BlobKey } from '../../src/storage/blob-store.ts';
import { storageKeyOf } from '../gc/support.ts';
import { pushBlob } from '../support/client.ts';
import { randomBlob, sha256, type Blob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';

const MiB = 1024 * 1024;
let reg: TestRegistry;
let server: Server;
let base: string;
/** Sendfile applies on the filesystem store only. */
let onDisk: boolean;
const big = randomBlob(3 * MiB + 17);
const small = randomBlob(ZERO_COPY_MIN_BYTES - 1);

beforeAll(async () => {
  reg = await createTestRegistry();
  onDisk = reg.fsRoot !== null;
  await pushBlob(reg.app, 'zc/repo', big);
  await pushBlob(reg.app, 'zc/repo', small);
  server = reg.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await reg.close();
});

interface Pulled {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
  port: number;
}

function pull(path: string, headers: Record<string, string> = {}, agent?: Agent): Promise<Pulled> {
  return new Promise((resolve, reject) => {
    get(`${base}${path}`, { headers, agent }, (res) => {
      const parts: Buffer[] = [];
      const port = res.socket.localPort ?? 0;
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), port }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

const blobPath = (b: Blob) => `/v2/zc/repo/blobs/${b.digest}`;

async function untilIdle(): Promise<void> {
  for (let i = 0; i < 200 && zeroCopyStats.inFlight() > 0; i++) await new Promise((r) => setTimeout(r, 25));
  expect(zeroCopyStats.inFlight()).toBe(0);
}

test('the addon was built by npm install and loads', () => {
  expect(zeroCopyAddon()).not.toBeNull();
});

test('a whole blob goes out by sendfile, exactly, and the connection serves the next request', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const before = zeroCopyStats.transfers;
  const first = await pull(blobPath(big), {}, agent);
  const second = await pull(blobPath(big), {}, agent);
  const after = await pull('/v2/', {}, agent);
  agent.destroy();
  for (const res of [first, second]) {
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(big.size));
    expect(sha256(res.body)).toBe(big.digest);
  }
  expect(after.status).toBe(200);
  expect(new Set([first.port, second.port, after.port]).size).toBe(1);
  expect(zeroCopyStats.transfers - before).toBe(onDisk ? 2 : 0);
});

test('a range goes out by sendfile from its offset', async () => {
  const before = zeroCopyStats.transfers;
  const start = 12_345;
  const end = big.size - 1_000;
  const res = await pull(blobPath(big), { Range: `bytes=${start}-${end}` });
  expect(res.status).toBe(206);
  expect(res.headers['content-range']).toBe(`bytes ${start}-${end}/${big.size}`);
  expect(res.body.equals(big.data.subarray(start, end + 1))).toBe(true);
  expect(zeroCopyStats.transfers - before).toBe(onDisk ? 1 : 0);
});

test('a small blob, or any with BOLLARD_ZERO_COPY=off, is copied through Node', async () => {
  const before = zeroCopyStats.transfers;
  const tiny = await pull(blobPath(small));
  expect(sha256(tiny.body)).toBe(small.digest);
  process.env.BOLLARD_ZERO_COPY = 'off';
  try {
    const copied = await pull(blobPath(big));
    expect(sha256(copied.body)).toBe(big.digest);
  } finally {
    delete process.env.BOLLARD_ZERO_COPY;
  }
  expect(zeroCopyStats.transfers).toBe(before);
});

test('a client that leaves mid-body stops the transfer; the server serves on', async () => {
  const huge = randomBlob(48 * MiB);
  await pushBlob(reg.app, 'zc/repo', huge);
  const before = zeroCopyStats.transfers;
  await new Promise<void>((resolve, reject) => {
    const req = get(`${base}${blobPath(huge)}`, (res) => {
      // take one chunk, stop reading so the socket fills, then hang up
      res.once('data', () => {
        res.pause();
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 100);
      });
    });
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
  });
  await untilIdle();
  expect(zeroCopyStats.transfers).toBe(before);
  const again = await pull(blobPath(huge));
  expect(createHash('sha256').update(again.body).digest('hex')).toBe(huge.digest.slice('sha256:'.length));
});

test('a stored file whose size differs from the record is a 500 UNKNOWN before any byte, not a short body', async () => {
  if (!onDisk) return;
  const damaged = randomBlob(ZERO_COPY_MIN_BYTES * 2);
  await pushBlob(reg.app, 'zc/repo', damaged);
  const key = (await storageKeyOf(reg.pool, damaged.digest)) as BlobKey;
  await truncate(join(reg.fsRoot as string, objectPath(key)), damaged.size - 1);
  const res = await pull(blobPath(damaged));
  expect(res.status).toBe(500);
  expect(JSON.parse(res.body.toString()).errors[0].code).toBe('UNKNOWN');
  await untilIdle();
});
