// Field types of the configuration schema. A value comes either from the
// environment (always a string) or from the YAML file (a number, a boolean, a
// list), so each field takes both: "300" and 300, "true" and true, "a,b" and [a, b].
import { z } from 'zod';

/** What the loader needs to know of a setting besides its type: its variable, and whether to hide it. */
export interface SettingMeta {
  /** null: a setting of the file only. */
  env: string | null;
  /** Redacted by `bollard config check`: the whole value, or ('url') the password inside a URL. */
  secret?: boolean | 'url';
}

/** Every setting's metadata, attached to its field; the loader and the docs test walk the schema for it. */
export const SETTINGS = z.registry<SettingMeta>();

/** Names the environment variable that sets this field (null: none, the file only). */
export function env<T extends z.ZodType>(name: string | null, field: T, extra: Omit<SettingMeta, 'env'> = {}): T {
  SETTINGS.add(field, { env: name, ...extra });
  return field;
}

const numberish = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v);

/** An integer from min to max. */
export const int = (min: number, max: number) => z.preprocess(numberish, z.number().int().min(min).max(max));

/** 1, true, yes, on or 0, false, no, off; YAML's own true and false, and the numbers 1 and 0, too. */
export const bool = z.preprocess(
  (v) => (typeof v === 'boolean' || typeof v === 'number' ? String(v) : v),
  z.enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off']).transform((v) => ['1', 'true', 'yes', 'on'].includes(v)),
);

/** A comma-separated list: so a variable gives it, and the file as a YAML list or the same string. */
export const csv = z.preprocess((v) => (Array.isArray(v) ? v.join(',') : typeof v === 'number' ? String(v) : v), z.string());

/** `host:port`; an IPv6 host goes in brackets. */
export const listen = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port out of range');
