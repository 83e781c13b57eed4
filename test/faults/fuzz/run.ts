// The fuzzer's command line, to run it against any registry:
//   node_modules/node/bin/node test/faults/fuzz/run.ts --url http://127.0.0.1:5000 --seed 123 --count 10000
// Options: --concurrency N, --username U --password P (token auth), --json FILE (the
// full report), --only I,J (send just those requests of the run, bytes shown: a replay). FUZZ_SEED and FUZZ_COUNT stand in for --seed and --count. The seed
// is printed first; the same seed and count replay the same requests. Exit status:
// 0 when the run is clean, 1 when it found faults, 2 on bad arguments.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runFuzz, type FuzzReport } from './runner.ts';

function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      seed: { type: 'string' },
      count: { type: 'string' },
      concurrency: { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      json: { type: 'string' },
      only: { type: 'string' },
    },
  });
  if (!values.url) {
    process.stderr.write('usage: run.ts --url http://127.0.0.1:5000 [--seed N] [--count N] [--concurrency N] [--username U --password P] [--json FILE]\n');
    return Promise.resolve(2);
  }
  const seed = Number(values.seed ?? process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
  const count = Number(values.count ?? process.env['FUZZ_COUNT'] ?? 10_000);
  const only = values.only?.split(',').map(Number);
  const credentials = values.username !== undefined ? { username: values.username, password: values.password ?? '' } : null;
  return runFuzz({ url: values.url, seed, count, concurrency: Number(values.concurrency ?? 8), credentials, trace: process.env['FUZZ_TRACE'] === '1', ...(only ? { only, concurrency: 1 } : {}) }).then((report) => {
    if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(summary(report));
    return report.ok ? 0 : 1;
  });
}

export function summary(r: FuzzReport): string {
  const lines = [
    `seed ${r.seed}, ${r.sent}/${r.count} requests to ${r.url} (auth ${r.auth}) in ${(r.durationMs / 1000).toFixed(1)} s`,
    `connections: ${JSON.stringify(r.exchanges)}; responses: ${r.responses}`,
    `statuses: ${JSON.stringify(r.statuses)}`,
    `crashed: ${r.crashed}; 5xx: ${r.serverErrors}; non-OCI error bodies: ${r.nonOciErrorBodies}; express default HTML 404: ${r.expressDefault404}; OAuth2 error bodies (POST /token): ${r.oauth2ErrorBodies}`,
    `empty parser responses: ${JSON.stringify(r.emptyParserResponses)}; honest requests unanswered: ${r.unansweredHonest}; garbled answers: ${r.garbled}`,
    `honest requests reset by the server before an answer arrived: ${r.resetBeforeAnswer}; CONNECT closed unanswered: ${r.connectClosed}`,
    `round trip after: ${r.roundTrip.ok ? 'ok' : 'FAILED'} (${r.roundTrip.detail})`,
  ];
  if (Object.keys(r.faultKinds).length > 0) lines.push(`faults by kind: ${JSON.stringify(r.faultKinds, null, 1)}`);
  if (Object.keys(r.nonOciKinds).length > 0) lines.push(`non-OCI error bodies by kind: ${JSON.stringify(r.nonOciKinds, null, 1)}`);
  for (const s of r.expressSamples.slice(0, 3)) lines.push(`express default 404 for: ${s}`);
  for (const s of r.resetSamples.slice(0, 5)) lines.push(`reset before an answer: ${s.slice(0, 300)}`);
  for (const f of r.failures.slice(0, 10)) lines.push(`FAILURE #${f.index} ${f.problem} ${f.label} [${f.framing}] ${f.notes.join('; ')}\n  request: ${f.request.slice(0, 400)}\n  status ${f.status ?? '-'} ${f.response ?? ''}`);
  lines.push(r.ok ? 'RESULT: clean' : 'RESULT: FAULTS FOUND');
  return `${lines.join('\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`fuzz failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(2);
    },
  );
}
