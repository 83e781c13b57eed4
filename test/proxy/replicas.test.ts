// Single-flight across replicas: two real `bollard serve` processes on one
// PostgreSQL and one data directory, whose upstream (distribution 2.8.2) sits
// behind a counting proxy that also slows its bodies down, so concurrent pulls
// overlap. However many clients pull the same blob or manifest at once, through
// either replica, the upstream is asked once; a blob cached for another
// repository is linked after one HEAD; a replica killed mid-fetch is taken over.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openPool } from '../../src/db/pool.ts';
import { DOCKER_MANIFEST, imageManifest, randomBlob } from '../support/fixtures.ts';
import { countRows, refcountDrift } from '../support/rows.ts';
import { startServer, type ServerProcess } from '../support/server.ts';
import { testStorageKind } from '../support/stores.ts';
import { startCountingProxy, type CountingProxy } from './counting-proxy.ts';
import { basic, DISTRIBUTION, pushBlobTo, pushManifestTo, startDistribution, type Distribution } from './upstreams.ts';

const MiB = 1024 * 1024;
const big = randomBlob(64 * MiB + 5);
const doomed = randomBlob(48 * MiB + 3);
const streamed = randomBlob(32 * MiB + 1);
const config = randomBlob(200);
const manifest = imageManifest(config, [big], {}, DOCKER_MANIFEST);

describe.skipIf(!existsSync(DISTRIBUTION))('single-flight of the pull-through cache across two replicas', () => {
  let upstream: Distribution;
  let counting: CountingProxy;
  let one: ServerProcess;
  let two: ServerProcess;
  let pool: DatabasePool;
  let env: Record<string, string>;

  beforeAll(async () => {
    upstream = await startDistribution();
    const auth = basic(upstream.user, upstream.password);
    for (const b of [config, big, doomed, streamed]) await pushBlobTo(upstream.url, auth, 'team/app', b);
    await pushBlobTo(upstream.url, auth, 'team/other', big);
    await pushManifestTo(upstream.url, auth, 'team/app', 'v1', manifest, DOCKER_MANIFEST);
    // 64 MiB at ~32 MiB/s: two seconds in which the other pulls arrive
    counting = await startCountingProxy(upstream.url, auth, { blobRate: 32 * MiB, manifestDelay: 500 });
    env = { BOLLARD_PROXY: `up=${counting.url}`, BOLLARD_PROXY_TIMEOUT: '10' };
    one = await startServer({ env });
    two = await startServer({ env, reuse: { dataDir: one.dataDir, db: one.db } });
    pool = await openPool(one.databaseUrl);
  }, 120_000);

  afterAll(async () => {
    await pool?.end();
    await two?.stop();
    await one?.destroy();
    await counting?.close();
    await upstream?.stop();
  });

  const blobPath = (repo: string, digest: string) => `/v2/${repo}/blobs/${digest}`;
  const pull = async (server: ServerProcess, path: string): Promise<{ status: number; sha256: string | null; error: string | null }> => {
    try {
      const res = await fetch(`${server.url}${path}`);
      const body = Buffer.from(await res.arrayBuffer());
      return { status: res.status, sha256: `sha256:${createHash('sha256').update(body).digest('hex')}`, error: null };
    } catch (err) {
      return { status: 0, sha256: null, error: String(err) };
    }
  };
  const settled = async () => {
    for (let i = 0; i < 200 && (await countRows(pool, 'proxy_fetches')) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    return countRows(pool, 'proxy_fetches');
  };
  /** A pull through the first replica, once the upstream has sent it 4 MiB of the blob. */
  const pullUnderway = async (digest: string) => {
    const path = blobPath('up/team/app', digest);
    const upstreamPath = `/v2/team/app/blobs/${digest}`;
    const first = pull(one, path);
    while (counting.sent(upstreamPath) < 4 * MiB) await new Promise((r) => setTimeout(r, 20));
    return { path, upstreamPath, first };
  };
  const staged = async () => testStorageKind() === 'fs' ? (await readdir(join(one.dataDir, 'storage', 'uploads'))).filter((f) => /^[0-9a-f-]{36}$/.test(f)) : [];

  test('four clients pull one 64 MiB blob at once, through both replicas: one upstream GET, all get its bytes', async () => {
    const path = blobPath('up/team/app', big.digest);
    const results = await Promise.all([pull(one, path), pull(two, path), pull(two, path), pull(one, path)]);
    for (const r of results) expect(r).toEqual({ status: 200, sha256: big.digest, error: null });
    expect(counting.count('GET', `/v2/team/app/blobs/${big.digest}`)).toBe(1);
    expect(await settled()).toBe(0);
    expect(await countRows(pool, 'blobs')).toBe(1);
    expect(await countRows(pool, 'repository_blobs')).toBe(1);
    expect(await refcountDrift(pool)).toEqual([]);
    expect(await staged()).toEqual([]);
  }, 60_000);

  test('a client on the other replica reads what is already stored while the rest arrives', async () => {
    const { path, upstreamPath, first } = await pullUnderway(streamed.digest);
    const res = await fetch(`${two.url}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(streamed.size));
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const chunks: Buffer[] = [];
    let got = 0;
    let upstreamSentAtFirstMiB = -1;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(Buffer.from(value));
      got += value.length;
      if (upstreamSentAtFirstMiB < 0 && got >= MiB) upstreamSentAtFirstMiB = counting.sent(upstreamPath);
    }
    // the second client had its first MiB while the upstream was still sending the blob
    expect(upstreamSentAtFirstMiB).toBeLessThan(streamed.size);
    expect(`sha256:${createHash('sha256').update(Buffer.concat(chunks)).digest('hex')}`).toBe(streamed.digest);
    expect(await first).toEqual({ status: 200, sha256: streamed.digest, error: null });
    expect(counting.count('GET', upstreamPath)).toBe(1);
    expect(await settled()).toBe(0);
  }, 60_000);

  test('a blob cached for another repository is linked after one upstream HEAD, and not fetched again', async () => {
    const r = await pull(two, blobPath('up/team/other', big.digest));
    expect(r).toEqual({ status: 200, sha256: big.digest, error: null });
    expect(counting.count('HEAD', `/v2/team/other/blobs/${big.digest}`)).toBe(1);
    expect(counting.count('GET', `/v2/team/other/blobs/${big.digest}`)).toBe(0);
    expect(await countRows(pool, 'blobs')).toBe(2);
    expect(await countRows(pool, 'repository_blobs')).toBe(3);
    // the repository check holds: a name the upstream does not serve it under gets no link
    const none = await fetch(`${one.url}${blobPath('up/team/none', big.digest)}`);
    expect(none.status).toBe(404);
    expect(((await none.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('BLOB_UNKNOWN');
    expect(await countRows(pool, 'repository_blobs')).toBe(3);
    expect(await refcountDrift(pool)).toEqual([]);
  }, 60_000);

  test('four clients pull one manifest by tag at once, through both replicas: one upstream GET', async () => {
    const get = (server: ServerProcess) => fetch(`${server.url}/v2/up/team/app/manifests/v1`, { headers: { Accept: DOCKER_MANIFEST } })
      .then(async (res) => ({ status: res.status, digest: res.headers.get('docker-content-digest'), same: Buffer.from(await res.arrayBuffer()).equals(manifest.data) }));
    const results = await Promise.all([get(one), get(two), get(one), get(two)]);
    for (const r of results) expect(r).toEqual({ status: 200, digest: manifest.digest, same: true });
    expect(counting.count('GET', '/v2/team/app/manifests/v1')).toBe(1);
    expect(await settled()).toBe(0);
    expect(await countRows(pool, 'manifests')).toBe(1);
    expect(await refcountDrift(pool)).toEqual([]);
  }, 60_000);

  test('a tag confirmed by one replica is fresh on the other, and after a restart: no HEAD within the TTL', async () => {
    await two.stop();
    two = await startServer({ env, reuse: { dataDir: one.dataDir, db: one.db } });
    for (const server of [one, two, two]) {
      const res = await fetch(`${server.url}/v2/up/team/app/manifests/v1`, { headers: { Accept: DOCKER_MANIFEST } });
      expect(res.status).toBe(200);
      expect(res.headers.get('docker-content-digest')).toBe(manifest.digest);
      await res.arrayBuffer();
    }
    expect(counting.count('HEAD', '/v2/team/app/manifests/v1')).toBe(0);
    expect(counting.count('GET', '/v2/team/app/manifests/v1')).toBe(1);
  }, 60_000);

  test('the fetching replica killed mid-blob: the follower takes the fetch over, its client gets the whole blob, nothing half-committed', async () => {
    const { path, upstreamPath, first } = await pullUnderway(doomed.digest);
    const follower = pull(two, path);
    await new Promise((r) => setTimeout(r, 300));
    await one.crash();
    expect((await first).sha256).not.toBe(doomed.digest);
    const followed = await follower;
    // the follower had part of the body from the dead replica's staging: it takes the fetch over and sends the rest
    expect(followed).toEqual({ status: 200, sha256: doomed.digest, error: null });
    expect(await pull(two, path)).toEqual({ status: 200, sha256: doomed.digest, error: null });
    expect(counting.count('GET', upstreamPath)).toBe(2);
    expect(await settled()).toBe(0);
    expect(await countRows(pool, 'blobs')).toBe(3);
    expect(await refcountDrift(pool)).toEqual([]);
    // only the dead replica's staging is left, for the sweeper: no row points at it
    expect((await staged()).length).toBeLessThanOrEqual(1);
  }, 90_000);
});
