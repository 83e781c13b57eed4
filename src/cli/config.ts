// `bollard config check`. The --config option of every command (cli/program.ts)
// is the same as BOLLARD_CONFIG=FILE: the loader reads the file from there, so every
// command sees one configuration, file first and the environment over it.
import { ConfigError, loadConfig } from '../config/index.ts';
import { formatConfig } from '../config/print.ts';

export function runConfigCheck(json: boolean, env: NodeJS.ProcessEnv = process.env): void {
  try {
    process.stdout.write(formatConfig(loadConfig(env), json ? 'json' : 'yaml'));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // the same message `bollard serve` stops with, but status 1: the check ran and found a fault
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  }
}
