// The import direction of src/, checked by layers.test.ts: imports flow one way,
// http → registry → {db, storage, auth} → {shared, digest, errors}, with config and
// the process entry points (main.ts, cli/, app.ts) on top composing everything.
// Layers are the top-level folders (and root files) of src/, so files may move
// inside a folder freely. A short script rather than a tool: dependency-cruiser
// parses TypeScript with the compiler's JS API, which TypeScript 7 no longer has.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const LEAVES = ['errors', 'logger'] as const;

/** What each layer may import besides itself. Anything else is against the direction. */
export const ALLOWED: Record<string, readonly string[]> = {
  errors: [],
  logger: [],
  digest: ['errors'],
  shared: ['digest', 'errors'],
  storage: ['shared', 'digest', ...LEAVES],
  db: ['shared', 'digest', ...LEAVES],
  auth: ['db', 'shared', 'digest', ...LEAVES],
  registry: ['db', 'storage', 'auth', 'shared', 'digest', ...LEAVES],
  // prom-client's registry and the gauges read at scrape time: fed by db and the shared work totals
  observability: ['db', 'shared', 'digest', ...LEAVES],
  http: ['registry', 'auth', 'storage', 'observability', 'shared', 'digest', ...LEAVES],
  // signals and the shutdown deadline of a running serve
  lifecycle: ['shared', ...LEAVES],
  // the composition root: the configuration produces the option types the layers below declare
  config: ['http', 'registry', 'auth', 'db', 'storage', 'shared', 'digest', ...LEAVES],
  app: ['http', 'registry', 'auth', 'storage', 'observability', 'shared', 'digest', ...LEAVES],
  // the separate listener of /metrics and the probes (BOLLARD_METRICS_LISTEN)
  'ops-app': ['http', 'storage', 'observability', 'shared', 'digest', ...LEAVES],
  main: ['app', 'ops-app', 'config', 'lifecycle', 'observability', 'http', 'registry', 'auth', 'db', 'storage', 'shared', 'digest', ...LEAVES],
  // the web UI's browser modules (served by http/ui-static.ts): they run in the page and import nothing of
  // the server but the shapes of its answers, as types (TYPES_ONLY)
  ui: [],
  cli: ['main', 'app', 'config', 'lifecycle', 'http', 'registry', 'auth', 'db', 'storage', 'shared', 'digest', ...LEAVES],
};

/** Layers a layer may import types from, with `import type` only (erased, so nothing is loaded). */
const TYPES_ONLY: Record<string, readonly string[]> = {
  ui: ['shared'],
};

/** Packages that belong to one layer: the domain never sees HTTP. */
const PACKAGES: Record<string, readonly string[]> = {
  express: ['http', 'app', 'ops-app', 'main', 'cli'],
};

function layerOf(pathInSrc: string): string {
  return pathInSrc.includes('/') ? (pathInSrc.split('/')[0] as string) : pathInSrc.replace(/\.[jt]s$/, '');
}

/** Import and export specifiers of a module: static, re-exports, side-effect and dynamic imports. */
export function specifiers(text: string): string[] {
  const re = /^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/gm;
  return [...stripComments(text).matchAll(re)].map((m) => (m[1] ?? m[2] ?? m[3]) as string);
}

/** The specifiers of `import type` and `export type` statements: erased when the module runs. */
function typeOnlySpecifiers(text: string): Set<string> {
  const re = /^\s*(?:import|export)\s+type\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]/gm;
  return new Set([...stripComments(text).matchAll(re)].map((m) => m[1] as string));
}

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

/** Every import of src/ against the direction, as "file imports spec (rule)". */
export function violations(src: string): string[] {
  const found: string[] = [];
  const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => /\.[jt]s$/.test(f) && !f.endsWith('.d.ts'));
  for (const file of files) {
    const from = layerOf(file);
    const allowed = ALLOWED[from];
    if (!allowed) {
      found.push(`src/${file} is in no layer: add "${from}" to ALLOWED in test/architecture/layers.ts`);
      continue;
    }
    const text = readFileSync(join(src, file), 'utf8');
    const typeOnly = typeOnlySpecifiers(text);
    for (const spec of specifiers(text)) {
      if (spec.startsWith('.')) {
        const target = relative(src, resolve(dirname(join(src, file)), spec));
        if (target.startsWith('..')) continue; // outside src/ (package.json and the like)
        const to = layerOf(target);
        const asType = typeOnly.has(spec) && (TYPES_ONLY[from] ?? []).includes(to);
        if (to !== from && !allowed.includes(to) && !asType) found.push(`src/${file} imports ${spec} (${from} may not import ${to})`);
      } else {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string);
        const owners = PACKAGES[pkg];
        if (owners && !owners.includes(from)) found.push(`src/${file} imports ${spec} (only ${owners.join(', ')} may)`);
      }
    }
  }
  return found.sort();
}
