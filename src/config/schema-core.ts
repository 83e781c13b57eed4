// The server, database, HTTP and storage sections of the configuration schema.
// Each field names its environment variable (env(...)); docs/configuration.md
// documents each and test/docs/configuration.test.ts holds the two together.
import { isIP } from 'node:net';
import { z } from 'zod';
import { defaultHashThreads } from '../digest/hash-pool.ts';
import { bool, csv, env, int } from './fields.ts';

export const DatabaseSchema = z.strictObject({
  /** Absent: run the embedded PostgreSQL under dataDir/postgres. */
  url: env('DATABASE_URL', z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL').optional(), { secret: 'url' }),
  poolSize: env('BOLLARD_DB_POOL_SIZE', int(1, 500).default(20)),
  embeddedPort: env('BOLLARD_EMBEDDED_PG_PORT', int(1, 65535).default(54329)),
  /** Seconds serve retries an external database that does not answer at start (src/db/connect-retry.ts). */
  connectTimeout: env('BOLLARD_DB_CONNECT_TIMEOUT', int(0, 86_400).default(60)),
});

/** HTTPS from a PEM pair (src/http/tls.ts), reloaded on SIGHUP or when the files change; both or neither. */
export const TlsSchema = z.strictObject({
  certFile: env('BOLLARD_TLS_CERT_FILE', z.string().min(1).optional()),
  keyFile: env('BOLLARD_TLS_KEY_FILE', z.string().min(1).optional()),
});

function isProxyAddress(a: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(a)) return true;
  const [ip, bits, extra] = a.split('/');
  if (extra !== undefined || isIP(ip ?? '') === 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (isIP(ip as string) === 4 ? 32 : 128));
}

/** A hop count, or addresses, subnets and named ranges; what express's `trust proxy` takes. */
const trustProxy = csv
  .refine((v) => /^\d{1,2}$/.test(v) || v.split(',').every((a) => isProxyAddress(a.trim())), 'expected a hop count or addresses, subnets, loopback, linklocal, uniquelocal')
  .transform((v): number | string[] => (/^\d{1,2}$/.test(v) ? Number(v) : v.split(',').map((a) => a.trim())));

/** What a slow or stalled client may hold (src/http/limits.ts). */
export const HttpSchema = z.strictObject({
  /** Whose X-Forwarded-For to believe; unset: nobody's. */
  trustProxy: env('BOLLARD_TRUST_PROXY', trustProxy.optional()),
  /** Seconds a client has to send its request headers. */
  headersTimeout: env('BOLLARD_HEADERS_TIMEOUT', int(1, 3600).default(30)),
  /** Seconds a request body may stop arriving; 0: never cut off. */
  bodyIdleTimeout: env('BOLLARD_BODY_IDLE_TIMEOUT', int(0, 86_400).default(60)),
  /** Upload requests with a body at once; 0: unlimited. */
  maxUploads: env('BOLLARD_MAX_UPLOADS', int(0, 100_000).default(128)),
});

/** What the API allows (src/registry/context.ts RegistryOptions). */
export const RegistrySchema = z.strictObject({
  deleteEnabled: env('BOLLARD_DELETE_ENABLED', bool.default(true)),
  autoMount: env('BOLLARD_AUTO_MOUNT', bool.default(true)),
  maxManifestBytes: env('BOLLARD_MAX_MANIFEST_BYTES', int(4 * 1024 * 1024, 2 ** 31).default(4 * 1024 * 1024)),
  pageSizeMax: env('BOLLARD_PAGE_SIZE_MAX', int(1, 2 ** 31).default(10_000)),
  /** Accept manifests that name blobs or child manifests the repository lacks (mirrors of some platforms). */
  sparseManifests: env('BOLLARD_SPARSE_MANIFESTS', bool.default(false)),
  /** Worker threads hashing uploaded bytes; 0: on the main thread. */
  hashThreads: env('BOLLARD_HASH_THREADS', int(0, 64).default(() => defaultHashThreads())),
});

const S3Schema = z.strictObject({
  /** Required when storage.driver is s3; checked in ConfigSchema. */
  bucket: env('BOLLARD_S3_BUCKET', z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name').optional()),
  /** Absent: AWS's own endpoint for the region. */
  endpoint: env('BOLLARD_S3_ENDPOINT', z.url({ protocol: /^https?$/ }).optional()),
  region: env('BOLLARD_S3_REGION', z.string().min(1).default('us-east-1')),
  forcePathStyle: env('BOLLARD_S3_FORCE_PATH_STYLE', bool.default(false)),
  prefix: env('BOLLARD_S3_PREFIX', z.string().regex(/^[A-Za-z0-9!_.*'()\/-]*$/, 'expected a key prefix of safe characters').default('')),
  redirect: env('BOLLARD_S3_REDIRECT', bool.default(false)),
  partSizeMb: env('BOLLARD_S3_PART_SIZE_MB', int(5, 5120).default(16)),
  uploadConcurrency: env('BOLLARD_S3_UPLOAD_CONCURRENCY', int(1, 64).default(4)),
  copyObjectMaxMb: env('BOLLARD_S3_COPY_OBJECT_MAX_MB', int(0, 5120).default(5120)),
  // File only: in the environment AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY stay the SDK's to
  // read, with the rest of its credential chain (AWS_SESSION_TOKEN, profiles, instance roles).
  accessKeyId: env(null, z.string().min(1).optional(), { secret: true }),
  secretAccessKey: env(null, z.string().min(1).optional(), { secret: true }),
});

export const StorageSchema = z.strictObject({
  driver: env('BOLLARD_STORAGE', z.enum(['fs', 's3']).default('fs')),
  fs: z.strictObject({
    /** Stage uploads with O_DIRECT writes where the filesystem allows it. */
    directIo: env('BOLLARD_FS_DIRECT_IO', bool.default(true)),
  }).prefault({}),
  s3: S3Schema.prefault({}),
});
