// docs/configuration.md against the code: every variable the config schema knows
// (or src/ reads from process.env directly) has its row, no row or sentence names
// a BOLLARD_* variable the code does not read, and a literal default in the page
// is the schema's own. The page can then not drift from the schemas.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import type { z } from 'zod';
import { settings } from '../../src/config/settings.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const DOC = join(ROOT, 'docs', 'configuration.md');

/** Variables src/ reads straight from process.env (CLI secrets), outside the schemas. */
async function readDirectly(): Promise<Set<string>> {
  const found = new Set<string>();
  const files = (await readdir(join(ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  for (const file of files) {
    const text = await readFile(join(ROOT, 'src', file), 'utf8');
    for (const m of text.matchAll(/process\.env(?:\.|\[['"])([A-Z][A-Z0-9_]*)/g)) found.add(m[1] as string);
  }
  return found;
}

interface Row {
  names: string[];
  dflt: string;
}

/** Table rows whose first cell names variables: `A`, `B` | default | meaning. */
function documentedRows(doc: string): Row[] {
  const rows: Row[] = [];
  for (const line of doc.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const names = [...(cells[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1] as string);
    if (line.startsWith('|') && names.length > 0) rows.push({ names, dflt: cells[2] ?? '' });
  }
  return rows;
}

/** The value a schema gives when the variable is unset, as the page would write it; null when none. */
function schemaDefault(field: z.ZodType): string | null {
  const parsed = field.safeParse(undefined);
  return parsed.success && parsed.data !== undefined ? String(parsed.data) : null;
}

test('docs/configuration.md has a row for every variable Bollard reads, and names no other BOLLARD_* variable', async () => {
  const doc = await readFile(DOC, 'utf8');
  const inSchemas = new Set(settings().flatMap((s) => (s.env ? [s.env] : [])));
  const direct = await readDirectly();
  const rows = documentedRows(doc);
  const documented = rows.flatMap((r) => r.names);

  const undocumented = [...inSchemas, ...direct].filter((v) => !documented.includes(v));
  expect(undocumented, 'variables with no row in docs/configuration.md').toEqual([]);

  const twice = documented.filter((v, i) => documented.indexOf(v) !== i);
  expect(twice, 'variables with more than one row').toEqual([]);

  const mentioned = new Set([...doc.matchAll(/\bBOLLARD_[A-Z0-9_]*[A-Z0-9]\b/g)].map((m) => m[0]));
  const unknown = [...mentioned].filter((v) => !inSchemas.has(v) && !direct.has(v));
  expect(unknown, 'BOLLARD_* variables in docs/configuration.md that no schema knows').toEqual([]);
});

test('a default written as a literal in docs/configuration.md is the schema\'s default', async () => {
  const rows = documentedRows(await readFile(DOC, 'utf8'));
  const fields = new Map(settings().flatMap((s) => (s.env ? [[s.env, s.field] as const] : [])));
  const wrong: string[] = [];
  for (const row of rows) {
    const literal = /^`([^`]*)`/.exec(row.dflt)?.[1];
    for (const name of row.names) {
      const field = fields.get(name);
      const actual = field ? schemaDefault(field) : null;
      // A default the schema leaves to code (unset, derived from another variable) is prose.
      if (literal === undefined || actual === null || row.names.length > 1) continue;
      if (literal !== actual) wrong.push(`${name}: page says ${literal}, schema gives ${actual}`);
    }
  }
  expect(wrong).toEqual([]);
});
