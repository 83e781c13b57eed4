// kill -9 of `bollard serve` at each phase of a monolithic and a chunked upload,
// then a restart on the same database and storage: sessions resume at once (the
// dead process's leases are free), nothing is linked that was not fully verified,
// no row lacks its bytes, and what the crash and the cut-off clients left behind
// is reclaimed within the resume window.
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { blob, type Blob } from '../support/fixtures.ts';
import { startServer, type ServerProcess } from '../support/server.ts';
import { testStorageKind } from '../support/stores.ts';
import { errorLines, expectIntact } from './integrity.ts';
import { cut, openSession, send, stall, targetOf, withQuery, type Target } from './raw.ts';

const MiB = 1024 * 1024;
const RESUME_WINDOW = 8;
const ENV = { BOLLARD_UPLOAD_RESUME_WINDOW: String(RESUME_WINDOW), BOLLARD_GC_INTERVAL: '1' };
const servers: ServerProcess[] = [];

afterAll(async () => {
  if (process.env.FAULTS_DUMP) (await import('node:fs')).writeFileSync(process.env.FAULTS_DUMP, servers.map((s) => s.output()).join('\n=====\n'));
  const last = servers.at(-1);
  for (const s of servers.slice(0, -1)) await s.crash();
  await last?.destroy();
});

async function restart(after: ServerProcess): Promise<ServerProcess> {
  const next = await startServer({ env: ENV, reuse: { dataDir: after.dataDir, db: after.db } });
  servers.push(next);
  return next;
}

function chunk(b: Blob, from: number, to: number): { range: string; body: Buffer } {
  return { range: `${from}-${to - 1}`, body: b.data.subarray(from, to) };
}

async function patch(t: Target, path: string, part: { range: string; body: Buffer }): Promise<string> {
  const r = await send(t, 'PATCH', path, { 'Content-Range': part.range }, part.body);
  expect(r.status, r.body).toBe(202);
  return r.headers.location as string;
}

/** The blob is either absent or there whole, with its own bytes. */
async function wholeOrAbsent(t: Target, url: string, repo: string, b: Blob): Promise<'whole' | 'absent'> {
  const head = await send(t, 'HEAD', `/v2/${repo}/blobs/${b.digest}`);
  if (head.status === 404) return 'absent';
  expect(head.status).toBe(200);
  const got = Buffer.from(await (await fetch(`${url}/v2/${repo}/blobs/${b.digest}`)).arrayBuffer());
  expect(got.equals(b.data)).toBe(true);
  return 'whole';
}

async function stagedFiles(server: ServerProcess): Promise<string[]> {
  return (await readdir(join(server.dataDir, 'storage', 'uploads'))).filter((f) => /^[0-9a-f-]{36}$/.test(f));
}

test('kill -9 mid-chunk, between chunks, mid-body and during the commit; restart; resume; leftovers reclaimed', async () => {
  const first = await startServer({ env: ENV });
  servers.push(first);
  let t = targetOf(first.url);
  const chunked = [blob(randomBytes(8 * MiB)), blob(randomBytes(8 * MiB)), blob(randomBytes(8 * MiB))];
  const mono = [blob(randomBytes(8 * MiB)), blob(randomBytes(8 * MiB))];

  // a client cut off early, never resumed; and a session merely idle between chunks
  const cutOff = await openSession(t, 'crash/a');
  await cut(t, 'PATCH', cutOff, chunked[0]!.data, { kind: 'reset', after: MiB, delayMs: 100 });
  const idle = await patch(t, await openSession(t, 'crash/a'), chunk(chunked[0]!, 0, MiB));
  // idle means its lease is back: a lease still kept (250 ms) when the process dies counts as its
  // writer's, and the session is reclaimed after the resume window like a cut-off one
  await new Promise((r) => setTimeout(r, 1000));

  // kill 1: S1 mid-chunk, S2 right after its chunk was answered (its lease kept), M1 mid-body
  const s1 = await patch(t, await openSession(t, 'crash/a'), chunk(chunked[0]!, 0, 4 * MiB));
  const s2 = await patch(t, await openSession(t, 'crash/a'), chunk(chunked[1]!, 0, 4 * MiB));
  const held = [
    await stall(t, 'PATCH', s1, chunked[0]!.data.subarray(4 * MiB), 2 * MiB, { 'Content-Range': `${4 * MiB}-${8 * MiB - 1}` }),
    await stall(t, 'POST', `/v2/crash/a/blobs/uploads/?digest=${mono[0]!.digest}`, mono[0]!.data, 3 * MiB),
  ];
  await new Promise((r) => setTimeout(r, 150));
  await first.crash();
  held.forEach((s) => s.destroy());

  const second = await restart(first);
  t = targetOf(second.url);
  // the dead process's leases are free at once: no 503, no 416
  const s1next = await patch(t, s1, chunk(chunked[0]!, 4 * MiB, 8 * MiB));
  const s2next = await patch(t, s2, chunk(chunked[1]!, 4 * MiB, 8 * MiB));
  expect((await send(t, 'HEAD', `/v2/crash/a/blobs/${mono[0]!.digest}`)).status).toBe(404);

  // kill 2: S3's final PUT and M2's whole body sent, the process killed while it commits
  const s3 = await patch(t, await openSession(t, 'crash/a'), chunk(chunked[2]!, 0, 4 * MiB));
  const last = chunked[2]!.data.subarray(4 * MiB);
  const committing = [
    await stall(t, 'PUT', withQuery(s3, `digest=${chunked[2]!.digest}`), last, last.length, { 'Content-Range': `${4 * MiB}-${8 * MiB - 1}` }),
    await stall(t, 'POST', `/v2/crash/a/blobs/uploads/?digest=${mono[1]!.digest}`, mono[1]!.data, mono[1]!.size),
  ];
  await new Promise((r) => setTimeout(r, 5));
  await second.crash();
  committing.forEach((s) => s.destroy());

  const third = await restart(second);
  t = targetOf(third.url);
  // committed in full or not at all; what did not commit is pushed again
  if ((await wholeOrAbsent(t, third.url, 'crash/a', chunked[2]!)) === 'absent') {
    const r = await send(t, 'PUT', withQuery(s3, `digest=${chunked[2]!.digest}`), { 'Content-Range': `${4 * MiB}-${8 * MiB - 1}` }, last);
    expect(r.status, r.body).toBe(201);
  }
  if ((await wholeOrAbsent(t, third.url, 'crash/a', mono[1]!)) === 'absent') {
    expect((await send(t, 'POST', `/v2/crash/a/blobs/uploads/?digest=${mono[1]!.digest}`, {}, mono[1]!.data)).status).toBe(201);
  }
  for (const [path, b] of [[s1next, chunked[0]!], [s2next, chunked[1]!]] as const) {
    expect((await send(t, 'PUT', withQuery(path, `digest=${b.digest}`))).status).toBe(201);
    expect(await wholeOrAbsent(t, third.url, 'crash/a', b)).toBe('whole');
  }
  expect(await wholeOrAbsent(t, third.url, 'crash/a', chunked[2]!)).toBe('whole');
  expect(await wholeOrAbsent(t, third.url, 'crash/a', mono[1]!)).toBe('whole');

  // within the resume window (plus a sweep's cadence): the cut-off session and the
  // killed monolithic upload's staged bytes are gone; the idle session is not
  const deadline = Date.now() + (RESUME_WINDOW + 10) * 1000;
  for (;;) {
    const gone = (await send(t, 'GET', cutOff)).status === 404;
    const staged = testStorageKind() === 'fs' ? await stagedFiles(third) : [];
    if (gone && staged.length <= 1) break; // the idle session's file remains
    if (Date.now() > deadline) throw new Error(`not reclaimed: cut-off session ${gone ? 'gone' : 'still there'}, staged ${staged.join(', ')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const stillIdle = await send(t, 'GET', idle);
  expect(stillIdle.status).toBe(204);
  expect(stillIdle.headers.range).toBe(`0-${MiB - 1}`);

  for (const s of servers) expect(errorLines(s)).toEqual([]);
  await expectIntact(third);
});
