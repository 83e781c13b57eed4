// `bollard config check` and the --config option of `bollard serve`. --config FILE
// is the same as BOLLARD_CONFIG=FILE: the loader reads the file from there, so every
// command sees one configuration, file first and the environment over it.
import { ConfigError, loadConfig } from '../config/index.ts';
import { formatConfig } from '../config/print.ts';
import { UsageError } from './access.ts';

export const CONFIG_USAGE = `  config check [--config FILE] [--json]
                            validate the configuration (the file, then the environment) and print
                            the effective one, secrets redacted; exit status 1 on any error`;

/** The environment with --config FILE (or --config=FILE) applied; `rest` is what else was given. */
export function withConfigOption(args: string[], env: NodeJS.ProcessEnv = process.env): { env: NodeJS.ProcessEnv; rest: string[] } {
  const rest: string[] = [];
  let file: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--config') {
      file = args[++i];
      if (!file) throw new UsageError('--config needs a file');
    } else if (a.startsWith('--config=')) file = a.slice('--config='.length);
    else rest.push(a);
  }
  return { env: file ? { ...env, BOLLARD_CONFIG: file } : env, rest };
}

export function runConfig(args: string[]): void {
  if (args[0] !== 'check') throw new UsageError(`expected "config check", got "config ${args[0] ?? ''}"`);
  const { env, rest } = withConfigOption(args.slice(1));
  const unknown = rest.filter((a) => a !== '--json');
  if (unknown.length > 0) throw new UsageError(`unknown option ${unknown[0]}`);
  try {
    process.stdout.write(formatConfig(loadConfig(env), rest.includes('--json') ? 'json' : 'yaml'));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // the same message `bollard serve` stops with, but status 1: the check ran and found a fault
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  }
}
