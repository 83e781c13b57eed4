// The configuration file: YAML whose keys are the schema's (`listen`, `storage.s3.bucket`,
// ...). It is read whole at start-up; the environment then overrides it key by key.
import { readFileSync } from 'node:fs';
import { parse, YAMLParseError } from 'yaml';
import { ConfigError } from '../shared/config-error.ts';

export type Tree = Record<string, unknown>;

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A key given no value (`realm:`, YAML's null) counts as unset, as an empty
 * variable does; so `bollard config check`'s output, where unset keys show as
 * null, reads back as the same configuration.
 */
function withoutNulls(tree: Tree): Tree {
  const out: Tree = {};
  for (const [k, v] of Object.entries(tree)) {
    if (v === null) continue;
    out[k] = isTree(v) ? withoutNulls(v) : v;
  }
  return out;
}

/** The file's settings as a tree; an empty file is an empty configuration. */
export function readConfigFile(path: string): Tree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`invalid configuration:\n  BOLLARD_CONFIG: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = parse(text, { uniqueKeys: true });
  } catch (err) {
    // the parser's message quotes the offending line, which may hold a secret: position only
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
    const code = err instanceof YAMLParseError ? ` (${err.code})` : '';
    throw new ConfigError(`invalid configuration:\n  ${path}: not valid YAML${where}${code}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isTree(doc)) throw new ConfigError(`invalid configuration:\n  ${path}: expected a mapping of keys (listen:, storage:, ...) at the top`);
  return withoutNulls(doc);
}

/** The dotted keys of a tree's leaves (lists are leaves). */
export function leafKeys(tree: Tree, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([k, v]) => (isTree(v) ? leafKeys(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

export function setPath(tree: Tree, path: string[], value: unknown): void {
  let node = tree;
  for (const part of path.slice(0, -1)) {
    if (!isTree(node[part])) node[part] = {};
    node = node[part] as Tree;
  }
  node[path[path.length - 1] as string] = value;
}
