// docs/configuration.md against the code: every setting of the schema has its row,
// with its file key, its variable and the schema's default; no row or sentence names
// a key or BOLLARD_* variable the code does not know; the example file loads. The
// page can then not drift from the schema.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import type { z } from 'zod';
import { loadConfig } from '../../src/config/index.ts';
import { settings } from '../../src/config/settings.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const DOC = join(ROOT, 'docs', 'configuration.md');

/** Variables src/ reads outside the schema: straight from process.env (CLI secrets), and the file's own. */
async function readDirectly(): Promise<Set<string>> {
  const found = new Set<string>(['BOLLARD_CONFIG']);
  const files = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  for (const file of files) {
    const text = await readFile(join(ROOT, 'src', file), 'utf8');
    for (const m of text.matchAll(/process\.env(?:\.|\[['"])([A-Z][A-Z0-9_]*)/g)) found.add(m[1] as string);
  }
  return found;
}

interface KeyRow {
  keys: string[];
  variables: string[];
  variableCell: string;
  dflt: string;
}

const cellsOf = (line: string) => line.split('|').map((c) => c.trim());
const ticked = (cell: string, re: RegExp) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string).filter((t) => re.test(t));
const KEY = /^[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)*$/;
const VARIABLE = /^[A-Z][A-Z0-9_]*$/;

/** Rows of the settings tables: `key` | `VARIABLE` | default | meaning. */
function keyRows(doc: string): KeyRow[] {
  return doc.split('\n').filter((l) => l.startsWith('|')).map(cellsOf)
    .filter((c) => ticked(c[1] ?? '', KEY).length > 0 && (c[1] ?? '').startsWith('`'))
    .map((c) => ({ keys: ticked(c[1] as string, KEY), variables: ticked(c[2] ?? '', VARIABLE), variableCell: c[2] ?? '', dflt: c[3] ?? '' }));
}

/** Every variable any table row names first (the CLI's and the file's own). */
function variableRows(doc: string): string[] {
  return doc.split('\n').filter((l) => l.startsWith('|')).map(cellsOf).flatMap((c) => ticked(c[1] ?? '', VARIABLE));
}

/** The value the schema gives when the setting is unset, as the page would write it; null when none. */
function schemaDefault(field: z.ZodType): string | null {
  const parsed = field.safeParse(undefined);
  return parsed.success && parsed.data !== undefined ? String(parsed.data) : null;
}

test('docs/configuration.md has one row per setting, with its key and its variable', async () => {
  const rows = keyRows(await readFile(DOC, 'utf8'));
  const documented = rows.flatMap((r) => r.keys);
  const known = settings();
  expect(known.map((s) => s.key).filter((k) => !documented.includes(k)), 'settings with no row').toEqual([]);
  expect(documented.filter((k) => !known.some((s) => s.key === k)), 'rows naming a key the schema does not have').toEqual([]);
  expect(documented.filter((k, i) => documented.indexOf(k) !== i), 'keys with more than one row').toEqual([]);
  const wrong: string[] = [];
  for (const row of rows) {
    const expected = row.keys.map((k) => known.find((s) => s.key === k)?.env ?? null);
    if (expected.every((e) => e === null)) {
      if (!row.variableCell.startsWith('—')) wrong.push(`${row.keys.join(', ')}: file only, the variable cell should start with —`);
    } else if (JSON.stringify(row.variables) !== JSON.stringify(expected)) {
      wrong.push(`${row.keys.join(', ')}: page says ${row.variables.join(', ')}, schema says ${expected.join(', ')}`);
    }
  }
  expect(wrong).toEqual([]);
});

test('every variable Bollard reads is on the page, and the page names no other BOLLARD_* variable', async () => {
  const doc = await readFile(DOC, 'utf8');
  const inSchema = new Set(settings().flatMap((s) => (s.env ? [s.env] : [])));
  const direct = await readDirectly();
  const onPage = new Set([...keyRows(doc).flatMap((r) => r.variables), ...variableRows(doc)]);
  expect([...direct].filter((v) => !onPage.has(v)), 'variables read by src/ with no row').toEqual([]);
  const mentioned = new Set([...doc.matchAll(/\bBOLLARD_[A-Z0-9_]*[A-Z0-9]\b/g)].map((m) => m[0]));
  expect([...mentioned].filter((v) => !inSchema.has(v) && !direct.has(v)), 'BOLLARD_* variables on the page that the code does not read').toEqual([]);
});

test('a default written as a literal in docs/configuration.md is the schema\'s default', async () => {
  const wrong: string[] = [];
  for (const row of keyRows(await readFile(DOC, 'utf8'))) {
    const literal = /^`([^`]*)`/.exec(row.dflt)?.[1];
    if (literal === undefined || row.keys.length > 1) continue;
    const setting = settings().find((s) => s.key === row.keys[0]);
    const actual = setting ? schemaDefault(setting.field) : null;
    // A default the schema leaves to code (unset, derived from another setting) is prose.
    if (actual !== null && literal !== actual) wrong.push(`${row.keys[0]}: page says ${literal}, schema gives ${actual}`);
  }
  expect(wrong).toEqual([]);
});

test('the example configuration file on the page loads', async () => {
  const doc = await readFile(DOC, 'utf8');
  const example = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  expect(example, 'a ```yaml block').toBeDefined();
  const dir = mkdtempSync(join(tmpdir(), 'bollard-doc-example-'));
  try {
    writeFileSync(join(dir, 'bollard.yaml'), example as string);
    const config = loadConfig({ BOLLARD_CONFIG: join(dir, 'bollard.yaml') });
    expect(config.storage.driver).toBe('s3');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
