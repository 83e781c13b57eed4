// Prints one plain closing line, "vitest: N passed, N failed, N skipped", after
// vitest's own summary, so any log reader can tell what ran, and whether the S3
// suites ran or were skipped.
import type { SerializedError } from 'vitest';
import type { Reporter, TestModule } from 'vitest/node';
import { s3Plan } from './s3-server.ts';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const m of modules) {
      if (m.state() === 'failed' && [...m.children.allTests()].length === 0) failed += 1;
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        else skipped += 1;
      }
    }
    let s3: string;
    try {
      s3 = s3Plan().why;
    } catch (err) {
      s3 = (err as Error).message;
    }
    // A failed global setup (a server that would not start) ends vitest with no
    // test run and, in vitest 4, exit code 0: make such a run fail loudly.
    if (unhandledErrors.length > 0) failed += unhandledErrors.length;
    if (passed + failed === 0 && !process.argv.some((a) => a.endsWith('.test.ts'))) failed += 1;
    if (failed > 0) {
      process.exitCode = 1;
      // vitest sets its own exit code after the reporters; have the last word
      process.once('exit', () => {
        process.exitCode = 1;
      });
    }
    process.stdout.write(`\n${s3}\nvitest: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
