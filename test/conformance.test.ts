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
  // the one allowed skip: the client-side referrers fallback, unneeded when OCI-Subject is returned
  const skipped = report.results.filter((r) => r.status === 'skip');
  expect(skipped.map((s) => s.name).every((n) => /fallback/.test(n))).toBe(true);
  expect(report.passed).toBeGreaterThan(100);
});
