// /readyz against a PostgreSQL of this test's own, killed and started again: 200
// while it answers, 503 with a JSON reason while it is gone, 200 once it is back
// (no restart of the app). /healthz stays 200 throughout: the process serves.
// Meanwhile a request the database fails is logged with its request id.
import request from 'supertest';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openPool, type DatabasePool } from '../../src/db/pool.ts';
import { createLogger } from '../../src/logger.ts';
import { waitFor } from '../faults/pg-bollard.ts';
import { startExternalPostgres, type ExternalPostgres } from '../faults/pg-external.ts';
import { DEFAULT_OPTIONS } from '../support/registry.ts';
import { fsStore, type StoreUnderTest } from '../support/stores.ts';

let pg: ExternalPostgres;
let pool: DatabasePool;
let storage: StoreUnderTest;
let app: ReturnType<typeof createApp>;
const lines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  pg = await startExternalPostgres();
  pool = await openPool(pg.url, { maximumPoolSize: 4, connectionTimeoutMs: 2000 });
  await migrate(pool);
  storage = await fsStore();
  const log = createLogger('info', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  app = createApp({ pool, store: storage.store, log, options: DEFAULT_OPTIONS });
});
afterAll(async () => {
  await pool?.end().catch(() => undefined);
  await storage?.destroy();
  await pg?.destroy();
});

test('/readyz follows PostgreSQL: 200, 503 with a reason while it is down, 200 once it is back', async () => {
  expect((await request(app).get('/readyz')).status).toBe(200);

  await pg.kill9();
  const down = await request(app).get('/readyz');
  expect(down.status).toBe(503);
  expect(down.headers['content-type']).toMatch(/^application\/json/);
  expect(down.body.status).toBe('not ready');
  expect(down.body.checks.storage).toBe('ok');
  expect(typeof down.body.checks.database).toBe('string');
  expect(down.body.checks.database).not.toBe('ok');
  expect((await request(app).get('/healthz')).status).toBe(200);

  // a request the database fails: its warning carries the request id, like its access line
  const failed = await request(app).get('/v2/ready/app/tags/list').set('X-Request-Id', 'db-down-1');
  expect(failed.status).toBe(503);
  const mine = lines.filter((l) => l['requestId'] === 'db-down-1');
  expect(mine.find((l) => l['level'] === 'warn')).toMatchObject({ msg: 'database unavailable' });
  expect(mine.find((l) => l['route'] !== undefined)).toMatchObject({ msg: 'request', status: 503 });

  await pg.restart();
  await waitFor('/readyz to answer 200 again', async () => (await request(app).get('/readyz')).status === 200, 30_000, 200);
  const back = await request(app).get('/readyz');
  expect(back.body).toEqual({ status: 'ready', checks: { database: 'ok', storage: 'ok' } });
});
