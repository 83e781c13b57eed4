// The one configuration schema. Every setting has a key (how the YAML file names
// it) and, but for two file-only ones, an environment variable (src/config/fields.ts
// env()); the environment overrides the file, and both override the defaults here.
import { z } from 'zod';
import { env, int, listen } from './fields.ts';
import { AuthSchema, authIssues } from './schema-auth.ts';
import { DatabaseSchema, HttpSchema, RegistrySchema, StorageSchema, TlsSchema } from './schema-core.ts';
import { ProxySchema } from './schema-proxy.ts';
import { GcSchema, RetentionSchema, UploadsSchema, WebhooksSchema } from './schema-jobs.ts';

export const ConfigSchema = z
  .strictObject({
    listen: env('BOLLARD_LISTEN', listen.default('127.0.0.1:5000')),
    /** Filesystem storage (storage/) and the embedded PostgreSQL (postgres/); relative to the working directory. */
    dataDir: env('BOLLARD_DATA_DIR', z.string().min(1).default('./data')),
    logLevel: env('BOLLARD_LOG_LEVEL', z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info')),
    /** Where /metrics and the probes are served instead of the main listener (plain HTTP); unset: on it. */
    metricsListen: env('BOLLARD_METRICS_LISTEN', listen.optional()),
    /** Seconds in-flight requests may take after a stop signal before their connections are closed. */
    shutdownTimeout: env('BOLLARD_SHUTDOWN_TIMEOUT', int(0, 86_400).default(30)),
    tls: TlsSchema.prefault({}),
    database: DatabaseSchema.prefault({}),
    http: HttpSchema.prefault({}),
    registry: RegistrySchema.prefault({}),
    storage: StorageSchema.prefault({}),
    auth: AuthSchema.prefault({}),
    gc: GcSchema.prefault({}),
    uploads: UploadsSchema.prefault({}),
    retention: RetentionSchema.prefault({}),
    webhooks: WebhooksSchema.prefault({}),
    proxy: ProxySchema.prefault({}),
  })
  .superRefine((c, ctx) => {
    const issues = authIssues(c.auth);
    if (c.storage.driver === 's3' && c.storage.s3.bucket === undefined) {
      issues.push({ path: ['storage', 's3', 'bucket'], message: 'required when {storage.driver} is s3' });
    }
    if ((c.tls.certFile === undefined) !== (c.tls.keyFile === undefined)) {
      issues.push({ path: ['tls', 'certFile'], message: 'set with {tls.keyFile} (HTTPS), or neither (HTTP)' });
    }
    if ((c.storage.s3.accessKeyId === undefined) !== (c.storage.s3.secretAccessKey === undefined)) {
      issues.push({ path: ['storage', 's3', 'accessKeyId'], message: 'set with {storage.s3.secretAccessKey}, or neither' });
    }
    for (const i of issues) ctx.addIssue({ code: 'custom', path: i.path, message: i.message });
  });

/** The validated configuration: what the file says, overridden by the environment, defaults filled in. */
export type Config = z.output<typeof ConfigSchema>;
