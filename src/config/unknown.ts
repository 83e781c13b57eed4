// Typos are errors: a key of the file or a BOLLARD_* variable that no setting has
// stops the process, naming the nearest known one. Silently ignored, a typo leaves
// a default in place that the operator believes changed.
import { closest } from 'fastest-levenshtein';
import { settings } from './settings.ts';

/**
 * BOLLARD_* variables read elsewhere than the schema: the file's own path, the
 * secrets two CLI commands take, and the test and Ceph harnesses (test/, scripts/).
 */
const OTHER_VARIABLES = ['BOLLARD_CONFIG', 'BOLLARD_USER_PASSWORD', 'BOLLARD_WEBHOOK_SECRET'];
const OTHER_PREFIXES = ['BOLLARD_TEST_', 'BOLLARD_CEPH_'];

/** The nearest known name by edit distance; "did you mean" even when far, so the list is one look away. */
function suggestion(name: string, candidates: string[]): string {
  return candidates.length === 0 ? '' : `; did you mean ${closest(name, candidates)}?`;
}

export function unknownVariables(env: NodeJS.ProcessEnv): string[] {
  const known = settings().flatMap((s) => (s.env ? [s.env] : []));
  return Object.entries(env)
    .filter(([k, v]) => k.startsWith('BOLLARD_') && v !== undefined && v !== '')
    .map(([k]) => k)
    .filter((k) => !known.includes(k) && !OTHER_VARIABLES.includes(k) && !OTHER_PREFIXES.some((p) => k.startsWith(p)))
    .sort()
    .map((k) => `${k}: unknown variable${suggestion(k, [...known, ...OTHER_VARIABLES])}`);
}

/** Every key a file may hold: the settings and the sections above them. */
function knownKeys(): string[] {
  const keys = new Set<string>();
  for (const s of settings()) for (let i = 1; i <= s.path.length; i++) keys.add(s.path.slice(0, i).join('.'));
  return [...keys];
}

/** The message of a file key no setting has. A variable's name used as a key points to the key. */
export function unknownKey(key: string): string {
  const byEnv = settings().find((s) => s.env !== null && s.env === key.split('.').pop());
  if (byEnv) return `unknown key; in the file, ${byEnv.env} is spelled ${byEnv.key}`;
  return `unknown key${suggestion(key, knownKeys())}`;
}
