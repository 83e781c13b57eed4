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
import { ACCESS_USAGE, runGrants, runUsers, UsageError } from './access.ts';
import { CONFIG_USAGE, runConfig, withConfigOption } from './config.ts';
import { MAINTENANCE_USAGE, runGc, runScrub } from './maintenance.ts';
import { withDatabase } from './database.ts';
import { executeRetention, parseImmutableArgs, parseRetentionArgs, RETENTION_USAGE, type RetentionCommand } from './retention.ts';
import { runGroups, runRobots } from './principals.ts';
import { runWebhooks, WEBHOOKS_USAGE } from './webhooks.ts';

const USAGE = `usage: bollard <command>

commands:
  serve [--config FILE]     run the registry (default configuration: 127.0.0.1:5000, ./data, embedded PostgreSQL)
  migrate   apply pending database migrations and exit
  help      show this text
${ACCESS_USAGE}
${MAINTENANCE_USAGE}
${RETENTION_USAGE}
${WEBHOOKS_USAGE}
${CONFIG_USAGE}

configuration is read from a YAML file (--config FILE or BOLLARD_CONFIG) and the environment,
which overrides it; see docs/configuration.md`;

async function runServe(args: string[]): Promise<void> {
  const { env, rest } = withConfigOption(args);
  if (rest.length > 0) throw new UsageError(`unknown option ${rest[0]}`);
  // Node would print the stack as plain text; the exit (code 1) is the same
  process.on('uncaughtException', (err, origin) => {
    printLine('error', 'fatal: uncaught exception', { origin, error: describeError(err) });
    process.exit(1);
  });
  await runUntilSignalled(() => serve(env));
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
  const command = argv[0] ?? 'serve';
  try {
    if (command === 'serve') await runServe(argv.slice(1));
    else if (command === 'migrate') await runMigrate();
    else if (command === 'users') await runUsers(argv.slice(1));
    else if (command === 'grants') await runGrants(argv.slice(1));
    else if (command === 'gc') await runGc(argv.slice(1));
    else if (command === 'scrub') await runScrub(argv.slice(1));
    else if (command === 'retention') await runRetentionCommand(parseRetentionArgs(argv.slice(1)));
    else if (command === 'immutable') await runRetentionCommand(parseImmutableArgs(argv.slice(1)));
    else if (command === 'robots') await runRobots(argv.slice(1));
    else if (command === 'groups') await runGroups(argv.slice(1));
    else if (command === 'webhooks') await runWebhooks(argv.slice(1));
    else if (command === 'config') runConfig(argv.slice(1));
    else if (command === 'help' || command === '--help' || command === '-h') process.stdout.write(`${USAGE}\n`);
    else {
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}\n`);
      process.exitCode = 2;
    }
  } catch (err) {
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
