// The effective configuration as `bollard config check` prints it: every key, in
// the file's shape, unset ones as null, so the output reads back as a file; secrets
// redacted, since the output ends up in terminals, tickets and CI logs.
import { stringify } from 'yaml';
import { setPath, type Tree } from './file.ts';
import type { Config } from './schema.ts';
import { settings } from './settings.ts';

export const REDACTED = '[redacted]';

/** A connection URL with its password (in the user part or the query) hidden, the rest kept for diagnosis. */
function redactUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = 'redacted';
    for (const key of [...url.searchParams.keys()]) if (/pass|secret|key/i.test(key)) url.searchParams.set(key, 'redacted');
    return url.toString();
  } catch {
    return REDACTED;
  }
}

export function effectiveConfig(config: Config): Tree {
  const out: Tree = {};
  for (const s of settings()) {
    let value: unknown = config;
    for (const part of s.path) value = (value as Tree | undefined)?.[part];
    if (value !== undefined && s.secret) value = s.secret === 'url' ? redactUrl(String(value)) : REDACTED;
    setPath(out, s.path, value ?? null);
  }
  return out;
}

export function formatConfig(config: Config, format: 'yaml' | 'json'): string {
  const tree = effectiveConfig(config);
  return format === 'json' ? `${JSON.stringify(tree, null, 2)}\n` : stringify(tree, { lineWidth: 0 });
}
