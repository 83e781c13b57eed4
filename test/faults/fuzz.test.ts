// The seeded fuzzer (test/faults/fuzz/) against a real `bollard serve` over TCP:
// every endpoint, honest and lying framing, hostile bytes everywhere. The server
// stays up, never answers 5xx, every error with a body is an OCI error, a push
// and pull round trip works afterwards, and what is stored is intact. The seed is
// printed first; FUZZ_SEED and FUZZ_COUNT replay a run (count: auth off, a fifth
// of it with token auth on).
import { afterEach, describe, expect, test } from 'vitest';
import { startServer, type ServerProcess } from '../support/server.ts';
import { summary } from './fuzz/run.ts';
import { runFuzz, type FuzzReport } from './fuzz/runner.ts';
import { errorLines, expectIntact } from './integrity.ts';

const SEED = Number(process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const COUNT = Number(process.env['FUZZ_COUNT'] ?? 10_000);
const ADMIN_PASSWORD = 'fuzz-admin-password';
// Known, outside these tests' reach: a request-target express's URL parser refuses
// ("POST http://[/v2/ HTTP/1.1") skips every route and gets express's own HTML 404.
// The fix belongs where the server hands requests to the app (a final handler that
// answers NAME_UNKNOWN); until then such answers are counted and printed, not failed.
const TOLERATE_EXPRESS_404 = false;

let server: ServerProcess | undefined;
afterEach(async () => {
  await server?.destroy();
  server = undefined;
});

function expectClean(report: FuzzReport, s: ServerProcess): void {
  process.stderr.write(`\n${summary(report)}`);
  const replay = `replay: FUZZ_SEED=${report.seed} FUZZ_COUNT=${COUNT}`;
  expect(s.alive(), replay).toBe(true);
  expect(report.crashed, replay).toBe(false);
  expect(report.sent, replay).toBe(report.count);
  expect(report.failures, replay).toEqual([]);
  expect({ serverErrors: report.serverErrors, nonOci: report.nonOciErrorBodies, garbled: report.garbled, unanswered: report.unansweredHonest }, replay).toEqual({
    serverErrors: 0,
    nonOci: 0,
    garbled: 0,
    unanswered: 0,
  });
  expect(report.roundTrip, replay).toMatchObject({ ok: true });
  expect(report.ok, replay).toBe(true);
  expect(errorLines(s), replay).toEqual([]);
}

describe('fuzzing every endpoint over raw TCP', () => {
  test(`auth off: ${COUNT} requests (seed ${SEED})`, { timeout: 180_000 }, async () => {
    server = await startServer({ env: { BOLLARD_AUTH: 'none' } });
    const s = server;
    const report = await runFuzz({ url: s.url, seed: SEED, count: COUNT, alive: () => s.alive(), tolerateExpressDefault404: TOLERATE_EXPRESS_404 });
    expectClean(report, s);
    expect(report.auth).toBe('none');
    await expectIntact(s);
  });

  test(`token auth on: ${Math.ceil(COUNT / 5)} requests (seed ${SEED + 1})`, { timeout: 120_000 }, async () => {
    server = await startServer({ env: { BOLLARD_AUTH: 'token', BOLLARD_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    const s = server;
    const report = await runFuzz({
      url: s.url,
      seed: SEED + 1,
      count: Math.ceil(COUNT / 5),
      credentials: { username: 'admin', password: ADMIN_PASSWORD },
      alive: () => s.alive(),
      tolerateExpressDefault404: TOLERATE_EXPRESS_404,
    });
    expectClean(report, s);
    expect(report.auth).toBe('token');
  });
});
