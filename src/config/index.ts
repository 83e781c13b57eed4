// The one typed configuration: one schema (schema.ts), one loader. Values come from
// the environment through the table of settings (settings.ts), validated once; a bad
// value stops the process with a message naming the variable and the rule it broke,
// never the value, since some values are secrets.
import { resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../shared/config-error.ts';
import { ConfigSchema, type Config } from './schema.ts';
import { settings } from './settings.ts';

export { ConfigError };
export type { Config };

type Tree = Record<string, unknown>;

function setPath(tree: Tree, path: string[], value: unknown): void {
  let node = tree;
  for (const part of path.slice(0, -1)) {
    if (typeof node[part] !== 'object' || node[part] === null || Array.isArray(node[part])) node[part] = {};
    node = node[part] as Tree;
  }
  node[path[path.length - 1] as string] = value;
}

/** Where each given value came from, to name it in errors as the operator wrote it. */
type Sources = Map<string, { env: string }>;

/** The environment as a tree of the schema's shape; empty variables count as unset. */
function fromEnv(env: NodeJS.ProcessEnv, into: Tree, sources: Sources): void {
  for (const s of settings()) {
    const value = s.env ? env[s.env] : undefined;
    if (s.env && value !== undefined && value !== '') {
      setPath(into, s.path, value);
      sources.set(s.key, { env: s.env });
    }
  }
}

/** A setting as the operator knows it: the variable that set it, else its key (and variable). */
function labeller(sources: Sources): (key: string) => string {
  const envOf = new Map(settings().map((s) => [s.key, s.env]));
  return (key) => {
    const src = sources.get(key);
    if (src) return src.env;
    const variable = envOf.get(key);
    return variable ? `${key} (${variable})` : key;
  };
}

function describe(issues: z.core.$ZodIssue[], label: (key: string) => string): string {
  const lines = issues.map((i) => {
    const key = i.path.join('.');
    const message = i.message.replace(/\{([A-Za-z0-9.]+)\}/g, (_, k: string) => label(k));
    return `  ${label(key)}: ${message}`;
  });
  return `invalid configuration:\n${lines.join('\n')}`;
}

/** Validates a tree of settings (file and environment merged) into the Config. */
export function parseConfig(input: Tree, sources: Sources = new Map()): Config {
  const parsed = ConfigSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(describe(parsed.error.issues, labeller(sources)));
  return { ...parsed.data, dataDir: resolve(parsed.data.dataDir) };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Tree = {};
  const sources: Sources = new Map();
  fromEnv(env, input, sources);
  return parseConfig(input, sources);
}
