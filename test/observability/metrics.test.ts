// GET /metrics after a push: the counters of the routes the push used moved, by
// route pattern (never the raw path), the duration histogram has samples, bytes
// were counted, the storage operations were timed, and the body is Prometheus
// text a scraper accepts. The probes answer without a token when auth is on.
import request from 'supertest';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createAuth } from '../../src/auth/service.ts';
import { loadConfig } from '../../src/config/index.ts';
import { authConfig, gcConfig } from '../../src/config/runtime.ts';
import { startGcWorker } from '../../src/registry/gc/worker.ts';
import { scrub } from '../../src/registry/gc/scrub.ts';
import { createLogger } from '../../src/logger.ts';
import { pushBlob, pushManifest } from '../support/client.ts';
import { emptyConfig, imageManifest, OCI_MANIFEST, randomBlob } from '../support/fixtures.ts';
import { createTestRegistry, DEFAULT_OPTIONS, type TestRegistry } from '../support/registry.ts';
import { declares, parseMetrics, valueOf } from './prom.ts';

let reg: TestRegistry;
beforeAll(async () => {
  reg = await createTestRegistry();
});
afterAll(async () => {
  await reg?.close();
});

const MANIFESTS = '/v2/<name>/manifests/<reference>';
const UPLOADS = '/v2/<name>/blobs/uploads/';

async function scrape(app = reg.app) {
  const res = await request(app).get('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return { body: res.text, samples: parseMetrics(res.text) };
}

test('a push moves the request, duration, byte and storage metrics, labelled by route pattern', async () => {
  const before = (await scrape()).samples;
  const layer = randomBlob(64 * 1024);
  await pushBlob(reg.app, 'metrics/app', layer);
  await pushBlob(reg.app, 'metrics/app', emptyConfig);
  await pushManifest(reg.app, 'metrics/app', 'v1', imageManifest(emptyConfig, [layer]), OCI_MANIFEST);
  expect((await request(reg.app).get('/v2/metrics/app/manifests/v1').set('Accept', OCI_MANIFEST)).status).toBe(200);
  const { body, samples } = await scrape();

  const moved = (name: string, labels: Record<string, string>) => valueOf(samples, name, labels) - valueOf(before, name, labels);
  expect(moved('bollard_http_requests_total', { method: 'POST', route: UPLOADS, status: '201' })).toBe(2);
  expect(moved('bollard_http_requests_total', { method: 'PUT', route: MANIFESTS, status: '201' })).toBe(1);
  expect(moved('bollard_http_requests_total', { method: 'GET', route: MANIFESTS, status: '200' })).toBe(1);
  expect(moved('bollard_http_request_duration_seconds_count', { method: 'POST', route: UPLOADS })).toBe(2);
  expect(moved('bollard_http_request_duration_seconds_bucket', { method: 'PUT', route: MANIFESTS, le: '+Inf' })).toBe(1);
  expect(moved('bollard_http_request_bytes_total', { route: UPLOADS })).toBeGreaterThan(layer.size);
  expect(moved('bollard_http_response_bytes_total', { route: MANIFESTS })).toBeGreaterThan(0);
  // the raw path never becomes a label
  expect(samples.some((s) => Object.values(s.labels).some((v) => v.includes('metrics/app')))).toBe(false);

  const driver = reg.store.name;
  expect(moved('bollard_storage_operation_duration_seconds_count', { driver, operation: 'completeUpload' })).toBeGreaterThanOrEqual(1);
  expect(valueOf(samples, 'bollard_storage_operation_errors_total', { driver })).toBe(0);

  for (const [name, type] of [
    ['bollard_http_requests_total', 'counter'],
    ['bollard_http_request_duration_seconds', 'histogram'],
    ['bollard_storage_operation_duration_seconds', 'histogram'],
    ['bollard_upload_sessions_open', 'gauge'],
    ['bollard_db_pool_connections', 'gauge'],
    ['bollard_db_pool_waiting', 'gauge'],
    ['bollard_gc_runs_total', 'counter'],
    ['bollard_gc_blobs_deleted_total', 'counter'],
    ['bollard_gc_bytes_deleted_total', 'counter'],
    ['bollard_upload_sweep_runs_total', 'counter'],
    ['bollard_retention_runs_total', 'counter'],
    ['bollard_retention_manifests_deleted_total', 'counter'],
    ['bollard_scrub_runs_total', 'counter'],
    ['bollard_scrub_problems_total', 'counter'],
    ['bollard_webhook_deliveries_total', 'counter'],
    ['bollard_webhook_backlog', 'gauge'],
    ['process_cpu_seconds_total', 'counter'],
    ['nodejs_heap_size_used_bytes', 'gauge'],
  ]) {
    expect(declares(body, name as string, type as string), `${name} ${type}`).toBe(true);
  }
});

test('open upload sessions and the database pool are read when scraped', async () => {
  const post = await request(reg.app).post('/v2/metrics/sessions/blobs/uploads/');
  expect(post.status).toBe(202);
  // a connection held across the scrape: the pool may have closed its idle ones by then (a slow CI
  // machine), and the gauge is read before the scrape's own count takes one
  const { samples } = await reg.pool.connect(async () => scrape());
  expect(valueOf(samples, 'bollard_upload_sessions_open')).toBe(1);
  expect(valueOf(samples, 'bollard_db_pool_connections', { state: 'in_use' })).toBeGreaterThan(0);
  expect(valueOf(samples, 'bollard_db_pool_waiting')).toBe(0);
  expect((await request(reg.app).delete(post.headers.location as string)).status).toBe(204);
  expect(valueOf((await scrape()).samples, 'bollard_upload_sessions_open')).toBe(0);
});

test('several apps in one process each have their own registry', async () => {
  const log = createLogger('silent');
  const a = createApp({ pool: reg.pool, store: reg.store, log, options: DEFAULT_OPTIONS });
  const b = createApp({ pool: reg.pool, store: reg.store, log, options: DEFAULT_OPTIONS });
  await request(a).get('/v2/');
  const inA = valueOf((await scrape(a)).samples, 'bollard_http_requests_total', { route: '/v2/' });
  const inB = valueOf((await scrape(b)).samples, 'bollard_http_requests_total', { route: '/v2/' });
  expect(inA).toBe(1);
  expect(inB).toBe(0);
});

test('with token auth, /metrics and the probes need no token', async () => {
  const log = createLogger('silent');
  const auth = await createAuth(reg.pool, authConfig(loadConfig({ BOLLARD_AUTH: 'token', BOLLARD_ADMIN_PASSWORD: 'metrics-test-password' })), log);
  const app = createApp({ pool: reg.pool, store: reg.store, log, options: DEFAULT_OPTIONS, auth });
  expect((await request(app).get('/v2/')).status).toBe(401);
  expect((await request(app).get('/metrics')).status).toBe(200);
  expect((await request(app).get('/healthz')).status).toBe(200);
  expect((await request(app).get('/readyz')).status).toBe(200);
});

test('/healthz and /readyz answer 200 with JSON while the database and storage answer', async () => {
  const health = await request(reg.app).get('/healthz');
  expect(health.status).toBe(200);
  expect(health.body).toEqual({ status: 'ok' });
  const ready = await request(reg.app).get('/readyz');
  expect(ready.status).toBe(200);
  expect(ready.body).toEqual({ status: 'ready', checks: { database: 'ok', storage: 'ok' } });
});

test('a collector pass, its sweep and a scrub are counted', async () => {
  const before = (await scrape()).samples;
  const gc = startGcWorker({ pool: reg.pool, store: reg.store }, gcConfig(loadConfig({})), createLogger('silent'));
  await gc.runOnce();
  await gc.stop();
  await scrub({ pool: reg.pool, store: reg.store });
  const { samples } = await scrape();
  const moved = (name: string, labels: Record<string, string> = {}) => valueOf(samples, name, labels) - valueOf(before, name, labels);
  expect(moved('bollard_gc_runs_total', { outcome: 'ok' })).toBe(1);
  expect(moved('bollard_gc_runs_total', { outcome: 'failed' })).toBe(0);
  expect(moved('bollard_upload_sweep_runs_total')).toBe(1);
  expect(moved('bollard_scrub_runs_total', { outcome: 'ok' })).toBe(1);
  expect(moved('bollard_scrub_problems_total')).toBe(0);
});
