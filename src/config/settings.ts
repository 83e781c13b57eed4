// The table of settings, derived from the schema: each leaf's key (its path in the
// file), its environment variable and whether it is a secret. The loader maps the
// environment through it, `config check` redacts by it, and the docs test checks
// docs/configuration.md against it, so there is no second list to keep in step.
import { z } from 'zod';
import { SETTINGS } from './fields.ts';
import { ConfigSchema } from './schema.ts';

export interface Setting {
  /** Dotted path, as in the file: `storage.s3.bucket`. */
  key: string;
  path: string[];
  env: string | null;
  secret: boolean | 'url';
  field: z.ZodType;
}

/** A section wrapped in prefault/default/optional, unwrapped to its object. */
function unwrap(t: z.ZodType): z.ZodType {
  let cur = t;
  while (cur instanceof z.ZodPrefault || cur instanceof z.ZodDefault || cur instanceof z.ZodOptional) cur = cur.unwrap() as z.ZodType;
  return cur;
}

function walk(obj: z.ZodObject, prefix: string[], out: Setting[]): void {
  for (const [name, field] of Object.entries(obj.shape) as [string, z.ZodType][]) {
    const path = [...prefix, name];
    const meta = SETTINGS.get(field);
    const inner = unwrap(field);
    if (meta) out.push({ key: path.join('.'), path, env: meta.env, secret: meta.secret ?? false, field });
    else if (inner instanceof z.ZodObject) walk(inner, path, out);
    else throw new Error(`config schema: ${path.join('.')} names no environment variable (wrap it in env())`);
  }
}

let cached: Setting[] | null = null;

export function settings(): Setting[] {
  if (!cached) {
    cached = [];
    walk(ConfigSchema, [], cached);
  }
  return cached;
}

/** Setting by environment variable. */
export function settingsByEnv(): Map<string, Setting> {
  return new Map(settings().flatMap((s) => (s.env ? [[s.env, s] as const] : [])));
}
