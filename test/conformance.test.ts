// Our conformance suite (conformance/), run against a real `bollard serve` process
// (with token auth on and admin credentials in the `token` project).
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runConformance } from '../conformance/index.ts';
import { conformanceCredentials } from './support/auth-mode.ts';
import { startServer, type ServerProcess } from './support/server.ts';

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.destroy());

test('every conformance check passes, none is skipped for lack of support', async () => {
  const report = await runConformance({ baseUrl: server.url, ...conformanceCredentials() });
  const failed = report.results.filter((r) => r.status === 'fail');
  expect(failed, failed.map((f) => `${f.workflow}: ${f.name} -- ${f.detail}`).join('\n')).toEqual([]);
  // the allowed skips: the client-side referrers fallback, unneeded when OCI-Subject is returned,
  // and the sparse workflow, which this server (sparse manifests off, the default) does not run
  const skipped = report.results.filter((r) => r.status === 'skip');
  expect(skipped.map((s) => `${s.workflow}: ${s.name}`).filter((n) => !/fallback|^sparse: /.test(n))).toEqual([]);
  expect(report.passed).toBeGreaterThan(100);
});

test('with registry.sparseManifests on, every check passes, the sparse workflow included', async () => {
  const sparse = await startServer({ env: { BOLLARD_SPARSE_MANIFESTS: 'true' } });
  try {
    const report = await runConformance({ baseUrl: sparse.url, sparse: true, ...conformanceCredentials() });
    const failed = report.results.filter((r) => r.status === 'fail');
    expect(failed, failed.map((f) => `${f.workflow}: ${f.name} -- ${f.detail}`).join('\n')).toEqual([]);
    const skipped = report.results.filter((r) => r.status === 'skip').map((s) => `${s.workflow}: ${s.name}`);
    expect(skipped.filter((n) => !/fallback/.test(n))).toEqual([]);
    expect(report.results.filter((r) => r.workflow === 'sparse' && r.status === 'pass').length).toBeGreaterThanOrEqual(7);
  } finally {
    await sparse.destroy();
  }
});
