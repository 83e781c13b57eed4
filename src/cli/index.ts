// The `bollard` command line: one home for every operator command.
import { inspect } from 'node:util';
import { ConfigError, loadConfig } from '../config/index.ts';
import { databaseLocation } from '../config/runtime.ts';
import { openCommandDatabase } from '../db/embedded-attach.ts';
import { migrate } from '../db/migrate.ts';
import { openPool } from '../db/pool.ts';
import { createLogger, printLine } from '../logger.ts';
import { serve } from '../main.ts';
import { runUntilSignalled } from '../lifecycle/shutdown.ts';
import { CommanderError } from 'commander';
import { UsageError } from './access.ts';
import { withDatabase } from './database.ts';
import { buildProgram } from './program.ts';
import { executeRetention, type RetentionCommand } from './retention.ts';

async function runServe(): Promise<void> {
  // Node would print the stack as plain text; the exit (code 1) is the same
  process.on('uncaughtException', (err, origin) => {
    printLine('error', 'fatal: uncaught exception', { origin, error: describeError(err) });
    process.exit(1);
  });
  await runUntilSignalled(() => serve());
}

async function runMigrate(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const db = await openCommandDatabase(databaseLocation(config), log);
  const pool = await openPool(db.url);
  try {
    const applied = await migrate(pool);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
  } finally {
    await pool.end();
    await db.release();
  }
}

async function runRetentionCommand(cmd: RetentionCommand): Promise<void> {
  process.stdout.write(await withDatabase((pool) => executeRetention(cmd, pool)));
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram({ serve: runServe, migrate: runMigrate, retention: runRetentionCommand });
  const command = argv.find((a) => !a.startsWith('-')) ?? '';
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    // commander has printed the help, the version or what was wrong with the command line
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    if (err instanceof UsageError) {
      process.stderr.write(`bollard ${command}: ${err.message}\n`);
      process.exit(2);
    }
    // JSON like every other line Bollard prints, so a log collector keeps the reason whole
    if (err instanceof ConfigError) {
      printLine('error', err.message, { command });
      process.exit(2);
    }
    printLine('error', `bollard ${command} failed`, { command, error: describeError(err) });
    process.exit(1);
  }
}

/**
 * What went wrong, readable whatever was thrown: libraries reject with plain
 * objects, strings, empty errors or nothing at all (`undefined`), and none of
 * those may reach the operator as "undefined" or "[object Object]".
 */
export function describeError(err: unknown): string {
  if (err === undefined || err === null) return `an unexplained failure (the error value was ${String(err)})`;
  if (typeof err === 'string') return err.trim() || 'an unexplained failure (an empty message)';
  // an Error's stack plus its code, cause and any aggregated errors; an object's fields
  return inspect(err, { depth: 4, breakLength: 120 });
}
