// PostgreSQL faults, on the real `bollard serve` over TCP: the database killed
// and started again under a push and pull load (the embedded server, which
// Bollard's supervisor must bring back by itself, and an external one, which the
// test brings back), and the Bollard process killed, leaving its embedded
// server behind. While the database is down every request gets a 503 with
// Retry-After at once and the process stays up; afterwards pushes and pulls work
// again without restarting Bollard, refcounts equal a recount, and no blob row
// lacks its bytes. Some kills come while requests wait inside PostgreSQL (held
// by a lock, pg-lock.ts), so that a query cut off mid-flight is covered too.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { freePort } from '../support/ports.ts';
import { alive, failingBollard, postmasterPid, startBollard, waitFor, type Bollard } from './pg-bollard.ts';
import { checkConsistency, pushImage, unpullable } from './pg-checks.ts';
import { startExternalPostgres } from './pg-external.ts';
import { Load, smallImage } from './pg-load.ts';
import { lockRepositories } from './pg-lock.ts';

const WORKERS = 4;
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** A data directory removed after the file, with any embedded server still running on it. */
async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bollard-fault-data-'));
  cleanups.push(async () => {
    const pid = await postmasterPid(join(dir, 'postgres'));
    if (pid !== null && alive(pid)) process.kill(pid, 'SIGQUIT');
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

function track(server: Bollard): Bollard {
  cleanups.push(() => server.stop());
  return server;
}

async function embeddedUrl(dir: string, port: number): Promise<string> {
  const secret = (await readFile(join(dir, 'postgres.secret'), 'utf8')).trim();
  return `postgres://bollard:${encodeURIComponent(secret)}@127.0.0.1:${port}/bollard`;
}

function figures(what: string, data: Record<string, unknown>): void {
  process.stderr.write(`[faults/postgres] ${what}: ${JSON.stringify(data)}\n`);
}

/** What a load run must show once the database is back: a proper 503 for every refusal, all quick, nothing lost. */
async function expectRecovered(server: Bollard, load: Load, databaseUrl: string, dir: string): Promise<Record<string, unknown>> {
  expect(server.running()).toBe(true);
  const serverErrors = server.output().split('\n').filter((l) => l.includes('"level":"error"') && !l.includes('embedded postgres died'));
  expect(load.improper().slice(0, 5), serverErrors.slice(0, 5).join('\n')).toEqual([]);
  const refused = load.samples.filter((s) => s.status === 503);
  expect(refused.length).toBeGreaterThan(0);
  const slowestRefusal = Math.max(...refused.map((s) => s.ms));
  expect(slowestRefusal).toBeLessThan(3_000);
  expect(await unpullable(server.url, load.pushed)).toEqual([]);
  const c = await checkConsistency(databaseUrl, dir);
  expect(c.drift).toEqual([]);
  expect(c.missingBytes).toEqual([]);
  return { requests: load.samples.length, statuses: load.summary(), slowestRefusalMs: slowestRefusal, imagesPushed: load.pushed.length, blobRows: c.blobs };
}

test('embedded: a killed postmaster is restarted by Bollard; meanwhile every request gets 503 with Retry-After', async () => {
  const dir = await dataDir();
  const pgPort = await freePort();
  const pgDir = join(dir, 'postgres');
  const server = track(await startBollard({ dataDir: dir, embeddedPort: pgPort }));
  const load = new Load(server.url).start(WORKERS);
  await waitFor('a first few pushes', () => load.pushed.length >= 8, 30_000);

  const recoveries: number[] = [];
  const backAgain: number[] = [];
  const databaseUrl = await embeddedUrl(dir, pgPort);
  for (let round = 1; round <= 2; round++) {
    const pid = (await postmasterPid(pgDir)) as number;
    // the first kill comes while every worker's request waits inside PostgreSQL
    const lock = round === 1 ? await lockRepositories(databaseUrl) : null;
    await lock?.waiters(WORKERS);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor('the postmaster to be gone', () => !alive(pid), 5_000, 5);
    const goneAt = Date.now();
    await lock?.close();
    await waitFor('a push after the restart', () => load.firstPushAfter(goneAt) !== null, 30_000);
    const firstPushAt = load.firstPushAfter(goneAt) as number;
    recoveries.push(firstPushAt - killedAt);
    expect(await postmasterPid(pgDir)).not.toBe(pid);
    const pushed = load.pushed.length;
    await waitFor('some more pushes', () => load.pushed.length >= pushed + 8, 30_000);
    // refusals once the database is back: a pool that kept dead connections would show here
    backAgain.push(load.samples.filter((x) => x.status === 503 && x.at - x.ms > firstPushAt).length);
  }
  await load.stop();

  expect(server.logged('embedded postgres died')).toHaveLength(2);
  const restarts = server.logged('embedded postgres restarted');
  expect(restarts).toHaveLength(2);
  const result = await expectRecovered(server, load, databaseUrl, dir);
  expect(backAgain).toEqual([0, 0]);
  figures('embedded postmaster kill -9', { ...result, killToFirstPushMs: recoveries, restartDownMs: restarts.map((r) => r.downMs) });
});

test('external: PostgreSQL killed and started again under load; Bollard recovers without a restart', async () => {
  const pg = await startExternalPostgres();
  cleanups.push(() => pg.destroy());
  const dir = await dataDir();
  const server = track(await startBollard({ dataDir: dir, databaseUrl: pg.url }));
  const load = new Load(server.url).start(WORKERS);
  await waitFor('a first few pushes', () => load.pushed.length >= 8, 30_000);

  const lock = await lockRepositories(pg.url);
  await lock.waiters(WORKERS); // killed while every worker's request waits inside PostgreSQL
  const killedAt = Date.now();
  await pg.kill9();
  await lock.close();
  await new Promise((r) => setTimeout(r, 3_000)); // down for a while, under load
  const down = load.samples.filter((s) => s.at - s.ms > killedAt + 100);
  expect(down.length).toBeGreaterThan(10);
  expect(down.every((s) => s.status === 503)).toBe(true);
  const restartAt = Date.now();
  await pg.restart();
  const readyAt = Date.now();
  await waitFor('a push after the restart', () => load.firstPushAfter(readyAt) !== null, 30_000);
  const firstPushAt = load.firstPushAfter(readyAt) as number;
  const pushed = load.pushed.length;
  await waitFor('some more pushes', () => load.pushed.length >= pushed + 8, 30_000);
  await load.stop();
  expect(load.samples.filter((x) => x.status === 503 && x.at - x.ms > firstPushAt)).toEqual([]);

  const result = await expectRecovered(server, load, pg.url, dir);
  figures('external postgres kill -9', {
    ...result, downMs: restartAt - killedAt, startMs: readyAt - restartAt, readyToFirstPushMs: firstPushAt - readyAt,
    refusalsWhileDown: down.length,
  });
});

test('a killed bollard serve leaves its embedded PostgreSQL running; the next start stops it and serves the data', async () => {
  const dir = await dataDir();
  const pgPort = await freePort();
  const pgDir = join(dir, 'postgres');
  const first = track(await startBollard({ dataDir: dir, embeddedPort: pgPort }));
  const img = smallImage('faults/survivor', 'v1');
  await pushImage(first.url, img);

  // a second server on a data directory in use is refused, with a reason
  const second = await failingBollard({ dataDir: dir, embeddedPort: await freePort() });
  expect(second.code).toBe(1);
  expect(second.output).toMatch(/belongs to a running process \(pid \d+\)/);
  expect(second.output).not.toMatch(/failed: (undefined|null|\[object Object\])/);

  const orphan = (await postmasterPid(pgDir)) as number;
  await first.kill9();
  expect(alive(orphan)).toBe(true); // the premise: the server outlives the process that started it

  const t0 = Date.now();
  const again = track(await startBollard({ dataDir: dir, embeddedPort: pgPort }));
  const startMs = Date.now() - t0;
  expect(alive(orphan)).toBe(false);
  expect(again.logged('stopping a PostgreSQL left running by an earlier Bollard process')).toHaveLength(1);
  expect(await unpullable(again.url, [img])).toEqual([]);
  const next = smallImage('faults/survivor', 'v2');
  await pushImage(again.url, next);
  expect(await unpullable(again.url, [img, next])).toEqual([]);
  const c = await checkConsistency(await embeddedUrl(dir, pgPort), dir);
  expect(c.drift).toEqual([]);
  expect(c.missingBytes).toEqual([]);
  expect(await again.stop()).toBe(0);
  expect(await postmasterPid(pgDir)).toBeNull(); // a clean stop leaves no server behind
  figures('bollard kill -9, restart on the same data dir', { restartToListeningMs: startMs });
});

test('a postmaster.pid naming another data directory’s server, or an unrelated process, is set aside and that process left alone', async () => {
  const other = await startExternalPostgres();
  cleanups.push(() => other.destroy());
  const dir = await dataDir();
  const pgPort = await freePort();
  const pgDir = join(dir, 'postgres');
  const first = track(await startBollard({ dataDir: dir, embeddedPort: pgPort }));
  // a request first: a SIGTERM in the instant after "bollard listening" comes before the
  // CLI's handler exists and kills the process (src/cli/index.ts, reported)
  expect((await fetch(`${first.url}/v2/`)).status).toBe(200);
  expect(await first.stop()).toBe(0);

  const otherPid = (await other.pid()) as number;
  for (const pid of [otherPid, process.pid]) {
    // what a reboot or a copied data directory can leave: a live pid that is not this directory's server
    await writeFile(join(pgDir, 'postmaster.pid'), `${pid}\n${pgDir}\n0\n${pgPort}\n\n127.0.0.1\n`);
    const server = track(await startBollard({ dataDir: dir, embeddedPort: pgPort }));
    expect(server.logged('removing a stale postmaster.pid whose pid now belongs to another process')).toHaveLength(1);
    expect(server.logged('stopping a PostgreSQL left running by an earlier Bollard process')).toHaveLength(0);
    expect((await fetch(`${server.url}/v2/_catalog`)).status).toBe(200);
    expect(await server.stop()).toBe(0);
  }
  expect(alive(otherPid)).toBe(true);
  const check = await fetch(`${(await startBollard({ dataDir: await dataDir(), databaseUrl: other.url }).then(track)).url}/v2/_catalog`);
  expect(check.status).toBe(200); // the other server still serves
});
