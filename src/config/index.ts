// The one typed configuration: one schema (schema.ts), one loader. Values come
// from a YAML file (BOLLARD_CONFIG, or --config), overridden by the environment
// through the table of settings (settings.ts), validated once. A bad value stops
// the process with a message naming the key or variable and the rule it broke,
// never the value, since some values are secrets.
import { resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../shared/config-error.ts';
import { leafKeys, readConfigFile, setPath, type Tree } from './file.ts';
import { ConfigSchema, type Config } from './schema.ts';
import { settings } from './settings.ts';
import { unknownKey, unknownVariables } from './unknown.ts';

export { ConfigError };
export type { Config };

/** Where each given value came from, to name it in errors as the operator wrote it. */
type Sources = Map<string, { env: string } | { file: string }>;

/** The environment over the file's tree; empty variables count as unset. */
function overlayEnv(env: NodeJS.ProcessEnv, into: Tree, sources: Sources): void {
  for (const s of settings()) {
    const value = s.env ? env[s.env] : undefined;
    if (s.env && value !== undefined && value !== '') {
      setPath(into, s.path, value);
      sources.set(s.key, { env: s.env });
    }
  }
}

/** A setting as the operator knows it: the variable or file key that set it, else its key and variable. */
function labeller(sources: Sources): (key: string) => string {
  const envOf = new Map(settings().map((s) => [s.key, s.env]));
  return (key) => {
    const src = sources.get(key);
    if (src && 'env' in src) return src.env;
    if (src) return `${key} (in ${src.file})`;
    const variable = envOf.get(key);
    return variable ? `${key} (${variable})` : key;
  };
}

function issueLines(issues: z.core.$ZodIssue[], label: (key: string) => string, file: string | null): string[] {
  return issues.flatMap((i) => {
    const at = i.path.map(String);
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => `  ${[...at, k].join('.')}${file ? ` (in ${file})` : ''}: ${unknownKey([...at, k].join('.'))}`);
    }
    const message = i.message.replace(/\{([A-Za-z0-9.]+)\}/g, (_, k: string) => label(k));
    return [`  ${label(at.join('.'))}: ${message}`];
  });
}

/** Validates a tree of settings (file and environment merged) into the Config. */
function parseConfig(input: Tree, sources: Sources, file: string | null, earlier: string[]): Config {
  const parsed = ConfigSchema.safeParse(input);
  const lines = [...earlier, ...(parsed.success ? [] : issueLines(parsed.error.issues, labeller(sources), file))];
  if (lines.length > 0 || !parsed.success) throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  return { ...parsed.data, dataDir: resolve(parsed.data.dataDir) };
}

/** The file BOLLARD_CONFIG names (the CLI's --config sets it), if any. */
export function configFile(env: NodeJS.ProcessEnv): string | null {
  return env['BOLLARD_CONFIG'] ? resolve(env['BOLLARD_CONFIG']) : null;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const file = configFile(env);
  const input: Tree = file ? readConfigFile(file) : {};
  const sources: Sources = new Map();
  if (file) for (const key of leafKeys(input)) sources.set(key, { file });
  overlayEnv(env, input, sources);
  return parseConfig(input, sources, file, unknownVariables(env).map((line) => `  ${line}`));
}
