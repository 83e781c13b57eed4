// What must hold after any fault: every blob row's bytes are in storage and hash
// to the row's BLAKE3 (`bollard scrub` re-reads them all), and every refcount
// equals a recount of the rows that reference it.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createPool } from 'slonik';
import { expect } from 'vitest';
import type { ServerProcess } from '../support/server.ts';
import { refcountDrift } from '../support/rows.ts';

const BIN = fileURLToPath(new URL('../../bin/bollard.js', import.meta.url));

export async function expectIntact(server: ServerProcess): Promise<void> {
  const env = { ...process.env, DATABASE_URL: server.databaseUrl, BOLLARD_DATA_DIR: server.dataDir, BOLLARD_LOG_LEVEL: 'error', ...server.storageEnv };
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'scrub', '--json'], { env });
  const report = JSON.parse(stdout) as { checked: number; findings: unknown[] };
  expect(report.findings).toEqual([]);
  const pool = await createPool(server.databaseUrl, { maximumPoolSize: 1 });
  try {
    expect(await refcountDrift(pool)).toEqual([]);
  } finally {
    await pool.end();
  }
}

/**
 * Lines that show a fault where there was none: an unexpected error (a bug even
 * when the client got an answer), an unhandled one, or a database outage claimed
 * while the database was up.
 */
export function errorLines(server: ServerProcess): string[] {
  return server.output().split('\n').filter((l) => l.includes('"level":"error"') || /Unhandled|uncaught|database unavailable/i.test(l));
}
