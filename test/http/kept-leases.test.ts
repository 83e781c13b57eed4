// After a chunk, its writer keeps the session's lease for a moment so the next
// chunk on the same process skips taking it (src/registry/push/kept-leases.ts); a
// request on another replica asks for it and gets it.
import { randomBytes } from 'node:crypto';
import { sql } from 'slonik';
import request from 'supertest';
import type { Express } from 'express';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { listenForChanges, type Listener } from '../../src/db/notify.ts';
import { createLogger } from '../../src/logger.ts';
import { KeptLeases } from '../../src/registry/push/kept-leases.ts';
import { blob } from '../support/fixtures.ts';
import { createTestRegistry, DEFAULT_OPTIONS, type TestRegistry } from '../support/registry.ts';

let reg: TestRegistry;
let listener: Listener;
const log = createLogger('silent');
const replicas: Array<{ app: Express; leases: KeptLeases }> = [];

/** An app on the shared database and storage, like one more replica; without auth in every project. */
function replica(keepMs: number): { app: Express; leases: KeptLeases } {
  const leases = new KeptLeases(reg.pool, keepMs);
  const r = { app: createApp({ pool: reg.pool, store: reg.store, log, options: DEFAULT_OPTIONS, keptLeases: leases }), leases };
  replicas.push(r);
  return r;
}

beforeAll(async () => {
  reg = await createTestRegistry();
});
afterAll(async () => {
  await listener?.close();
  for (const r of replicas) await r.leases.close();
  await reg.close();
});

const leaseOf = async (id: string) => (await reg.pool.oneFirst(sql.unsafe`SELECT lease_token FROM upload_sessions WHERE id = ${id}::uuid`)) as string | null;

async function patch(app: Express, location: string, data: Buffer, start: number): Promise<string> {
  const res = await request(app).patch(location).set('Content-Type', 'application/octet-stream').set('Content-Range', `${start}-${start + data.length - 1}`).send(data);
  expect(res.status).toBe(202);
  return res.headers.location as string;
}

test('consecutive chunks on one process hold one lease, given back once the session is idle', async () => {
  const { app } = replica(300);
  const data = randomBytes(300_000);
  let loc = (await request(app).post('/v2/kept/one/blobs/uploads/').expect(202)).headers.location as string;
  const id = loc.split('/').pop() as string;
  loc = await patch(app, loc, data.subarray(0, 100_000), 0);
  const first = await leaseOf(id);
  expect(first).not.toBeNull();
  loc = await patch(app, loc, data.subarray(100_000, 200_000), 100_000);
  expect(await leaseOf(id)).toBe(first);
  let lease = first;
  for (let i = 0; i < 100 && lease !== null; i++) {
    await new Promise((r) => setTimeout(r, 50));
    lease = await leaseOf(id);
  }
  expect(lease).toBeNull();
  loc = await patch(app, loc, data.subarray(200_000), 200_000);
  await request(app).put(`${loc}?digest=${blob(data).digest}`).expect(201);
});

test('a chunk sent to another replica gets the lease the first one keeps, by asking for it', async () => {
  // the holder would keep it for a minute; the other replica gives up after about a second
  const a = replica(60_000);
  const b = replica(60_000);
  const ready = new Promise<void>((resolve) => {
    listener = listenForChanges(reg.db.url, { onChange: () => undefined, onState: (on) => on && resolve(), onLeaseWanted: (id) => void a.leases.giveBack(id) }, log);
  });
  await ready;
  const data = randomBytes(200_000);
  let loc = (await request(a.app).post('/v2/kept/two/blobs/uploads/').expect(202)).headers.location as string;
  loc = await patch(a.app, loc, data.subarray(0, 100_000), 0);
  loc = await patch(b.app, loc, data.subarray(100_000), 100_000);
  await request(b.app).put(`${loc}?digest=${blob(data).digest}`).expect(201);
  const got = await request(a.app).get(`/v2/kept/two/blobs/${blob(data).digest}`).buffer(true);
  expect(got.status).toBe(200);
});

test('a stopping process gives its kept leases back', async () => {
  const a = replica(60_000);
  let loc = (await request(a.app).post('/v2/kept/three/blobs/uploads/').expect(202)).headers.location as string;
  const id = loc.split('/').pop() as string;
  loc = await patch(a.app, loc, randomBytes(1000), 0);
  expect(await leaseOf(id)).not.toBeNull();
  await a.leases.close();
  expect(await leaseOf(id)).toBeNull();
});
