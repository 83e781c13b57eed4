// Issue 15: imports flow one way. A failure lists each offending import with the rule it breaks.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { specifiers, violations } from './layers.ts';

const SRC = join(import.meta.dirname, '..', '..', 'src');

test('no module of src/ imports against the layer direction', () => {
  expect(violations(SRC), 'imports against the direction (see test/architecture/layers.ts)').toEqual([]);
});

const scratch = mkdtempSync(join(tmpdir(), 'bollard-layers-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test('the check names the offending import, for every kind of import', () => {
  const write = (path: string, text: string) => {
    mkdirSync(join(scratch, path, '..'), { recursive: true });
    writeFileSync(join(scratch, path), text);
  };
  write('config/index.ts', 'export const x = 1;\n');
  write('storage/index.ts', "import { x } from '../config/index.ts';\n");
  write('storage/s3/factory.ts', "// import { y } from '../../http/server.ts'; (a comment)\nexport type { Z } from '../../registry/context.ts';\n");
  write('registry/blobs.ts', "import type { Request } from 'express';\nconst m = await import('../http/errors.ts');\n");
  write('shared/names.ts', "import '../db/pool.ts';\n");
  write('metrics/index.ts', '');
  // the browser modules may take the shapes of the API's answers as types, and nothing else
  write('ui/home.ts', "import type { TagView } from '../shared/ui-views.ts';\nimport { globToRegex } from '../shared/glob.ts';\n");
  expect(violations(scratch)).toEqual([
    'src/metrics/index.ts is in no layer: add "metrics" to ALLOWED in test/architecture/layers.ts',
    'src/registry/blobs.ts imports ../http/errors.ts (registry may not import http)',
    'src/registry/blobs.ts imports express (only http, app, ops-app, main, cli may)',
    'src/shared/names.ts imports ../db/pool.ts (shared may not import db)',
    'src/storage/index.ts imports ../config/index.ts (storage may not import config)',
    'src/storage/s3/factory.ts imports ../../registry/context.ts (storage may not import registry)',
    'src/ui/home.ts imports ../shared/glob.ts (ui may not import shared)',
  ]);
});

test('specifiers finds multi-line imports and ignores strings that only look like one', () => {
  expect(specifiers("import {\n  a,\n  b,\n} from './a.ts';\nconst s = 'import x from \"./no.ts\"';\n")).toEqual(['./a.ts']);
});
