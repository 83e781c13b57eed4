// The one typed configuration, read from the environment and validated once.
// A bad value stops the process with a message naming the variable.
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { defaultHashThreads } from '../digest/hash-pool.ts';
import { ConfigError } from '../shared/config-error.ts';
import type { StorageConfig } from '../storage/options.ts';

export { ConfigError };
export type { StorageConfig };

export const bool = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const listen = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port');

export const EnvSchema = z.object({
  BOLLARD_LISTEN: listen.default('127.0.0.1:5000'),
  BOLLARD_DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL').optional(),
  BOLLARD_DELETE_ENABLED: bool.default(true),
  BOLLARD_AUTO_MOUNT: bool.default(true),
  BOLLARD_MAX_MANIFEST_BYTES: z.coerce.number().int().min(4 * 1024 * 1024).default(4 * 1024 * 1024),
  BOLLARD_PAGE_SIZE_MAX: z.coerce.number().int().min(1).default(10_000),
  BOLLARD_EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  BOLLARD_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  BOLLARD_TRUST_PROXY: z
    .string()
    .refine((v) => /^\d{1,2}$/.test(v) || v.split(',').every((a) => isProxyAddress(a.trim())), 'expected a hop count or addresses, subnets, loopback, linklocal, uniquelocal')
    .transform((v) => (/^\d{1,2}$/.test(v) ? Number(v) : v.split(',').map((a) => a.trim())))
    .optional(),
  BOLLARD_HEADERS_TIMEOUT: z.coerce.number().int().min(1).max(3600).default(30),
  BOLLARD_BODY_IDLE_TIMEOUT: z.coerce.number().int().min(0).max(86_400).default(60),
  BOLLARD_MAX_UPLOADS: z.coerce.number().int().min(0).max(100_000).default(128),
  BOLLARD_DB_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  BOLLARD_STORAGE: z.enum(['fs', 's3']).default('fs'),
  BOLLARD_FS_DIRECT_IO: bool.default(true),
  BOLLARD_HASH_THREADS: z.coerce.number().int().min(0).max(64).optional(),
  BOLLARD_S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name').optional(),
  BOLLARD_S3_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  BOLLARD_S3_REGION: z.string().min(1).default('us-east-1'),
  BOLLARD_S3_FORCE_PATH_STYLE: bool.default(false),
  BOLLARD_S3_PREFIX: z.string().regex(/^[A-Za-z0-9!_.*'()\/-]*$/, 'expected a key prefix of safe characters').default(''),
  BOLLARD_S3_REDIRECT: bool.default(false),
  BOLLARD_S3_PART_SIZE_MB: z.coerce.number().int().min(5).max(5120).default(16),
  BOLLARD_S3_UPLOAD_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  BOLLARD_S3_COPY_OBJECT_MAX_MB: z.coerce.number().int().min(0).max(5120).default(5120),
});

const MiB = 1024 * 1024;

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
  /** Whose X-Forwarded-For to believe: a hop count or addresses/subnets; undefined: nobody's. */
  trustProxy: number | string[] | undefined;
  storage: StorageConfig;
  /** Worker threads hashing uploaded bytes; 0: on the main thread. */
  hashThreads: number;
  /** What a slow or stalled client may hold (src/http/limits.ts). */
  http: {
    /** A client must send its request headers within this. */
    headersTimeoutMs: number;
    /** A request body that stops arriving this long is cut off; 0: never. */
    bodyIdleMs: number;
    /** Upload requests with a body at once; 0: unlimited. */
    maxUploads: number;
  };
}

function isProxyAddress(a: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(a)) return true;
  const [ip, bits, extra] = a.split('/');
  if (extra !== undefined || isIP(ip ?? '') === 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (isIP(ip as string) === 4 ? 32 : 128));
}

/**
 * Validates the variables a schema names (empty ones count as unset). Errors
 * name the variable and the rule, never the value: some hold secrets.
 */
export function parseEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const present = Object.fromEntries(Object.entries(env).filter(([k, v]) => k in schema.shape && v !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const e = parseEnv(EnvSchema, env);
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
    trustProxy: e.BOLLARD_TRUST_PROXY,
    storage: storageConfig(e),
    hashThreads: e.BOLLARD_HASH_THREADS ?? defaultHashThreads(),
    http: {
      headersTimeoutMs: e.BOLLARD_HEADERS_TIMEOUT * 1000,
      bodyIdleMs: e.BOLLARD_BODY_IDLE_TIMEOUT * 1000,
      maxUploads: e.BOLLARD_MAX_UPLOADS,
    },
  };
}

function storageConfig(e: z.infer<typeof EnvSchema>): StorageConfig {
  if (e.BOLLARD_STORAGE === 'fs') return { kind: 'fs', directIo: e.BOLLARD_FS_DIRECT_IO };
  if (!e.BOLLARD_S3_BUCKET) throw new ConfigError('invalid configuration:\n  BOLLARD_S3_BUCKET: required when BOLLARD_STORAGE=s3');
  const prefix = e.BOLLARD_S3_PREFIX.replace(/^\/+/, '');
  return {
    kind: 's3',
    bucket: e.BOLLARD_S3_BUCKET,
    endpoint: e.BOLLARD_S3_ENDPOINT,
    region: e.BOLLARD_S3_REGION,
    forcePathStyle: e.BOLLARD_S3_FORCE_PATH_STYLE,
    prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`,
    redirect: e.BOLLARD_S3_REDIRECT,
    partSize: e.BOLLARD_S3_PART_SIZE_MB * MiB,
    uploadConcurrency: e.BOLLARD_S3_UPLOAD_CONCURRENCY,
    copyObjectMax: e.BOLLARD_S3_COPY_OBJECT_MAX_MB * MiB,
  };
}
