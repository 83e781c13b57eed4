// A real `bollard serve` with BOLLARD_METRICS_LISTEN: /metrics and the probes are
// served on that address and not on the main one, the registry's traffic is
// counted there, and every line the process prints, from start-up to the signal
// that stops it, is JSON.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { freePort } from '../support/ports.ts';
import { startServer, type ServerProcess } from '../support/server.ts';
import { parseMetrics, valueOf } from './prom.ts';

let server: ServerProcess;
let metricsUrl: string;

beforeAll(async () => {
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}`;
  server = await startServer({ env: { BOLLARD_METRICS_LISTEN: `127.0.0.1:${port}` } });
});
afterAll(async () => {
  await server?.destroy();
});

test('metrics and probes are on BOLLARD_METRICS_LISTEN only, and count the main listener’s requests', async () => {
  const base = await fetch(`${server.url}/v2/`, { headers: { 'X-Request-Id': 'serve-base-1' } });
  expect([200, 401]).toContain(base.status); // 401 when the run uses token auth
  expect(base.headers.get('x-request-id')).toBe('serve-base-1');
  for (const path of ['/metrics', '/healthz', '/readyz']) {
    expect((await fetch(`${server.url}${path}`)).status, `${path} on the main listener`).toBe(404);
    expect((await fetch(`${metricsUrl}${path}`)).status, `${path} on the metrics listener`).toBe(200);
  }
  expect((await fetch(`${metricsUrl}/v2/`)).status).toBe(404);

  const samples = parseMetrics(await (await fetch(`${metricsUrl}/metrics`)).text());
  expect(valueOf(samples, 'bollard_http_requests_total', { method: 'GET', route: '/v2/', status: String(base.status) })).toBe(1);
  // the main listener answered these paths 404; the metrics listener's own requests are not counted
  for (const route of ['/metrics', '/healthz', '/readyz']) {
    expect(valueOf(samples, 'bollard_http_requests_total', { route, status: '404' }), route).toBe(1);
    expect(valueOf(samples, 'bollard_http_requests_total', { route, status: '200' }), route).toBe(0);
  }
  expect(samples.some((s) => s.name === 'process_resident_memory_bytes')).toBe(true);
  const listening = server.output().split('\n').find((l) => l.includes('"bollard listening"')) ?? '{}';
  expect(JSON.parse(listening)).toMatchObject({ metricsUrl });
});

test('every line the server printed, up to its stop by SIGTERM, is JSON', async () => {
  expect(await server.stop()).toBe(0);
  const lines = server.output().split('\n').filter((l) => l !== '');
  expect(lines.length).toBeGreaterThan(0);
  const notJson = lines.filter((l) => {
    try {
      return typeof JSON.parse(l) !== 'object';
    } catch {
      return true;
    }
  });
  expect(notJson).toEqual([]);
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(parsed.find((l) => l['requestId'] === 'serve-base-1')).toMatchObject({ msg: 'request', route: '/v2/' });
  expect(parsed.find((l) => l['signal'] === 'SIGTERM')).toMatchObject({ level: 'info' });
});

test('a start-up failure is printed as JSON too', () => {
  const bin = fileURLToPath(new URL('../../bin/bollard.js', import.meta.url));
  const run = spawnSync(process.execPath, [bin, 'serve'], { env: { ...process.env, BOLLARD_METRICS_LISTEN: 'no port here' }, encoding: 'utf8', timeout: 60_000 });
  expect(run.status).toBe(2);
  const lines = `${run.stdout}${run.stderr}`.split('\n').filter((l) => l !== '');
  expect(lines.length).toBeGreaterThan(0);
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(parsed[0]).toMatchObject({ level: 'error' });
  expect(String(parsed[0]?.['msg'])).toMatch(/BOLLARD_METRICS_LISTEN/);
});
