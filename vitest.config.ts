import { defineConfig } from 'vitest/config';
import { s3Plan } from './test/support/s3-server.ts';

// Projects: "fs" runs every test with filesystem storage; "s3" runs the
// HTTP, conformance, restart, e2e and GC suites again with the S3 driver, when an
// S3 server is configured or a local Ceph can be started (test/support/s3-server.ts).
// The storage contract suite (test/storage) covers both drivers itself.
// The global setup (PostgreSQL, S3) belongs to the root and runs once for both.
const plan = s3Plan();
// "token" runs the HTTP and conformance suites again with token auth on (test/support/auth-mode.ts).
const TOKEN_SUITES = ['test/http/**/*.test.ts', 'test/conformance.test.ts'];
const S3_SUITES = ['test/http/**/*.test.ts', 'test/conformance.test.ts', 'test/restart.test.ts', 'test/e2e/**/*.test.ts', 'test/gc/**/*.test.ts'];
const timeouts = { testTimeout: 120_000, hookTimeout: 180_000 };

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    ...timeouts,
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      { test: { name: 'fs', ...timeouts, include: ['test/**/*.test.ts', 'src/**/*.test.ts'] } },
      { test: { name: 'token', ...timeouts, include: TOKEN_SUITES, env: { BOLLARD_TEST_AUTH: 'token' } } },
      ...(plan.mode === 'skip' ? [] : [{ test: { name: 's3', ...timeouts, include: S3_SUITES, env: { BOLLARD_TEST_STORAGE: 's3' } } }]),
    ],
  },
});
