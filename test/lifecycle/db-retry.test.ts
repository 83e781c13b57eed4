// An external database that is down when serve starts: retried with backoff for
// BOLLARD_DB_CONNECT_TIMEOUT, each attempt logged, then a clear exit. "Comes up
// later" is a TCP relay to the run's PostgreSQL that starts listening later on
// the port DATABASE_URL names (to the client, the same as a server starting).
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { freePort } from '../support/ports.ts';
import { cleanup, startServe, type ServeChild } from './serve-child.ts';

const dirs: string[] = [];
const serves: ServeChild[] = [];
let db: TestDatabase | undefined;
let relay: Server | undefined;
const sockets = new Set<Socket>();
afterAll(async () => {
  for (const s of serves) cleanup(s, undefined);
  for (const s of sockets) s.destroy();
  relay?.close();
  await db?.drop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function startRelay(port: number, to: URL): Promise<Server> {
  const server = createServer((inbound) => {
    const outbound = connect(Number(to.port || 5432), to.hostname);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => sockets.delete(s));
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

test('serve waits for a database that comes up after it, logging each retry', async () => {
  db = await createTestDatabase();
  const real = new URL(db.url);
  const port = await freePort();
  const late = new URL(db.url);
  late.hostname = '127.0.0.1';
  late.port = String(port);
  const dataDir = await mkdtemp(join(tmpdir(), 'bollard-life-db-'));
  dirs.push(dataDir);
  const s = await startServe({ dataDir, databaseUrl: late.toString(), env: { BOLLARD_DB_CONNECT_TIMEOUT: '120' }, waitListening: false });
  serves.push(s);
  const retry = await s.waitFor('database not reachable, retrying');
  expect(retry).toMatchObject({ level: 'warn', database: `127.0.0.1:${port}`, attempt: 1 });
  expect(String(retry.reason)).toMatch(/ECONNREFUSED/);
  relay = await startRelay(port, real);
  await s.waitFor('bollard listening');
  expect(s.logged('database answers')).toHaveLength(1);
  expect((await fetch(`http://127.0.0.1:${s.port}/v2/`)).status).toBe(200);
  process.kill(s.pid, 'SIGTERM');
  expect(await s.exited).toBe(0);
});

test('a database that never answers ends start-up after the timeout with exit code 1 and a JSON error', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'bollard-life-db-'));
  dirs.push(dataDir);
  const port = await freePort();
  const s = await startServe({
    dataDir, databaseUrl: `postgres://bollard:secret@127.0.0.1:${port}/bollard`, env: { BOLLARD_DB_CONNECT_TIMEOUT: '2' }, waitListening: false,
  });
  serves.push(s);
  expect(await s.exited).toBe(1);
  const lines = s.output().trim().split('\n');
  expect(lines.filter((l) => !l.startsWith('{'))).toEqual([]);
  const last = JSON.parse(lines[lines.length - 1] as string) as Record<string, unknown>;
  expect(last).toMatchObject({ level: 'error', msg: 'bollard serve could not start' });
  expect(String(last.error)).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} did not answer within 2 s .*BOLLARD_DB_CONNECT_TIMEOUT`));
  expect(s.logged('database not reachable, retrying').length).toBeGreaterThan(0);
  // the password of DATABASE_URL is in no line
  expect(s.output()).not.toContain('secret');
});
