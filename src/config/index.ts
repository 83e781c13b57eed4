// The one typed configuration, read from the environment and validated once.
// A bad value stops the process with a message naming the variable.
import { resolve } from 'node:path';
import { z } from 'zod';

const bool = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const listen = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port');

const EnvSchema = z.object({
  BOLLARD_LISTEN: listen.default('127.0.0.1:5000'),
  BOLLARD_DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL').optional(),
  BOLLARD_DELETE_ENABLED: bool.default(true),
  BOLLARD_AUTO_MOUNT: bool.default(true),
  BOLLARD_MAX_MANIFEST_BYTES: z.coerce.number().int().min(4 * 1024 * 1024).default(4 * 1024 * 1024),
  BOLLARD_PAGE_SIZE_MAX: z.coerce.number().int().min(1).default(10_000),
  BOLLARD_EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  BOLLARD_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  BOLLARD_DB_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
});

export interface Config {
  listen: { host: string; port: number };
  dataDir: string;
  /** Absent: run the embedded PostgreSQL under dataDir/postgres. */
  databaseUrl: string | undefined;
  embeddedPostgresPort: number;
  dbPoolSize: number;
  deleteEnabled: boolean;
  autoMount: boolean;
  maxManifestBytes: number;
  pageSizeMax: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([k, v]) => k in EnvSchema.shape && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const idx = e.BOLLARD_LISTEN.lastIndexOf(':');
  const host = e.BOLLARD_LISTEN.slice(0, idx).replace(/^\[|\]$/g, '');
  const port = Number(e.BOLLARD_LISTEN.slice(idx + 1));
  if (port > 65535) throw new ConfigError('invalid configuration:\n  BOLLARD_LISTEN: port out of range');
  return {
    listen: { host, port },
    dataDir: resolve(e.BOLLARD_DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    embeddedPostgresPort: e.BOLLARD_EMBEDDED_PG_PORT,
    dbPoolSize: e.BOLLARD_DB_POOL_SIZE,
    deleteEnabled: e.BOLLARD_DELETE_ENABLED,
    autoMount: e.BOLLARD_AUTO_MOUNT,
    maxManifestBytes: e.BOLLARD_MAX_MANIFEST_BYTES,
    pageSizeMax: e.BOLLARD_PAGE_SIZE_MAX,
    logLevel: e.BOLLARD_LOG_LEVEL,
  };
}
