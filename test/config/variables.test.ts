// Every environment variable still sets what it set before the one schema, with
// the same default; and the file key of each setting sets the same value.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/index.ts';
import { authConfig, gcConfig, httpLimits, listenAddress, registryOptions, storageConfig, webhookConfig } from '../../src/config/runtime.ts';
import { settings } from '../../src/config/settings.ts';

const PEM = '-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----';
const EXTERNAL = { BOLLARD_AUTH_EXTERNAL_JWKS_URL: 'https://idp.example/jwks', BOLLARD_AUTH_EXTERNAL_ISSUER: 'idp' };

/** variable, a value other than its default, the key it sets, the value it becomes, other variables it needs. */
const ROWS: [string, string, string, unknown, Record<string, string>?][] = [
  ['BOLLARD_LISTEN', '[::1]:6000', 'listen', '[::1]:6000'],
  ['BOLLARD_DATA_DIR', '/srv/bollard', 'dataDir', '/srv/bollard'],
  ['BOLLARD_LOG_LEVEL', 'warn', 'logLevel', 'warn'],
  ['DATABASE_URL', 'postgres://u:p@db/reg', 'database.url', 'postgres://u:p@db/reg'],
  ['BOLLARD_DB_POOL_SIZE', '7', 'database.poolSize', 7],
  ['BOLLARD_EMBEDDED_PG_PORT', '6543', 'database.embeddedPort', 6543],
  ['BOLLARD_DB_CONNECT_TIMEOUT', '5', 'database.connectTimeout', 5],
  ['BOLLARD_METRICS_LISTEN', '0.0.0.0:9090', 'metricsListen', '0.0.0.0:9090'],
  ['BOLLARD_SHUTDOWN_TIMEOUT', '2', 'shutdownTimeout', 2],
  ['BOLLARD_TLS_CERT_FILE', '/etc/tls.crt', 'tls.certFile', '/etc/tls.crt', { BOLLARD_TLS_KEY_FILE: '/etc/tls.key' }],
  ['BOLLARD_TLS_KEY_FILE', '/etc/tls.key', 'tls.keyFile', '/etc/tls.key', { BOLLARD_TLS_CERT_FILE: '/etc/tls.crt' }],
  ['BOLLARD_TRUST_PROXY', 'loopback, 10.0.0.0/8', 'http.trustProxy', ['loopback', '10.0.0.0/8']],
  ['BOLLARD_HEADERS_TIMEOUT', '40', 'http.headersTimeout', 40],
  ['BOLLARD_BODY_IDLE_TIMEOUT', '0', 'http.bodyIdleTimeout', 0],
  ['BOLLARD_MAX_UPLOADS', '9', 'http.maxUploads', 9],
  ['BOLLARD_DELETE_ENABLED', 'false', 'registry.deleteEnabled', false],
  ['BOLLARD_AUTO_MOUNT', 'off', 'registry.autoMount', false],
  ['BOLLARD_MAX_MANIFEST_BYTES', '8388608', 'registry.maxManifestBytes', 8_388_608],
  ['BOLLARD_PAGE_SIZE_MAX', '50', 'registry.pageSizeMax', 50],
  ['BOLLARD_SPARSE_MANIFESTS', 'true', 'registry.sparseManifests', true],
  ['BOLLARD_HASH_THREADS', '0', 'registry.hashThreads', 0],
  ['BOLLARD_STORAGE', 's3', 'storage.driver', 's3', { BOLLARD_S3_BUCKET: 'bucket-1' }],
  ['BOLLARD_FS_DIRECT_IO', 'no', 'storage.fs.directIo', false],
  ['BOLLARD_S3_BUCKET', 'my-bucket', 'storage.s3.bucket', 'my-bucket'],
  ['BOLLARD_S3_ENDPOINT', 'http://rgw:8080', 'storage.s3.endpoint', 'http://rgw:8080'],
  ['BOLLARD_S3_REGION', 'eu-west-1', 'storage.s3.region', 'eu-west-1'],
  ['BOLLARD_S3_FORCE_PATH_STYLE', '1', 'storage.s3.forcePathStyle', true],
  ['BOLLARD_S3_PREFIX', 'team/a/', 'storage.s3.prefix', 'team/a/'],
  ['BOLLARD_S3_REDIRECT', 'yes', 'storage.s3.redirect', true],
  ['BOLLARD_S3_PART_SIZE_MB', '32', 'storage.s3.partSizeMb', 32],
  ['BOLLARD_S3_UPLOAD_CONCURRENCY', '8', 'storage.s3.uploadConcurrency', 8],
  ['BOLLARD_S3_COPY_OBJECT_MAX_MB', '100', 'storage.s3.copyObjectMaxMb', 100],
  ['BOLLARD_AUTH', 'token', 'auth.mode', 'token'],
  ['BOLLARD_AUTH_REALM', 'https://r.example/token', 'auth.realm', 'https://r.example/token'],
  ['BOLLARD_AUTH_SERVICE', 'reg', 'auth.service', 'reg'],
  ['BOLLARD_AUTH_ISSUER', 'me', 'auth.issuer', 'me'],
  ['BOLLARD_AUTH_TOKEN_TTL', '600', 'auth.tokenTtl', 600],
  ['BOLLARD_AUTH_REFRESH_TTL', '3600', 'auth.refreshTtl', 3600],
  ['BOLLARD_AUTH_SIGNING_KEY', PEM, 'auth.signingKey', PEM],
  ['BOLLARD_AUTH_SIGNING_KEY_FILE', '/etc/k.pem', 'auth.signingKeyFile', '/etc/k.pem'],
  ['BOLLARD_ADMIN_PASSWORD', 'long enough', 'auth.adminPassword', 'long enough'],
  ['BOLLARD_AUTH_LOGIN_FAILURES_PER_CLIENT', '5', 'auth.login.failuresPerClient', 5],
  ['BOLLARD_AUTH_LOGIN_FAILURES_PER_USER', '3', 'auth.login.failuresPerUser', 3],
  ['BOLLARD_AUTH_LOGIN_WINDOW', '60', 'auth.login.window', 60],
  ['BOLLARD_AUTH_EXTERNAL_JWKS_URL', 'https://idp.example/jwks', 'auth.external.jwksUrl', 'https://idp.example/jwks', EXTERNAL],
  ['BOLLARD_AUTH_EXTERNAL_JWKS_FILE', '/etc/jwks.json', 'auth.external.jwksFile', '/etc/jwks.json', { BOLLARD_AUTH_EXTERNAL_ISSUER: 'idp' }],
  ['BOLLARD_AUTH_EXTERNAL_PEM_FILE', '/etc/idp.pem', 'auth.external.pemFile', '/etc/idp.pem', { BOLLARD_AUTH_EXTERNAL_ISSUER: 'idp' }],
  ['BOLLARD_AUTH_EXTERNAL_ISSUER', 'idp', 'auth.external.issuer', 'idp', EXTERNAL],
  ['BOLLARD_AUTH_EXTERNAL_AUDIENCE', 'aud', 'auth.external.audience', 'aud', EXTERNAL],
  ['BOLLARD_AUTH_EXTERNAL_ALGORITHMS', 'ES256, EdDSA,ES256', 'auth.external.algorithms', ['ES256', 'EdDSA'], EXTERNAL],
  ['BOLLARD_GC', 'false', 'gc.enabled', false],
  ['BOLLARD_GC_INTERVAL', '30', 'gc.interval', 30],
  ['BOLLARD_GC_REVIEW_DELAY', '0', 'gc.reviewDelay', 0],
  ['BOLLARD_GC_UNTAGGED', 'delete', 'gc.untagged', 'delete'],
  ['BOLLARD_GC_ORPHAN_REFERRERS', 'off', 'gc.orphanReferrers', false],
  ['BOLLARD_SWEEP_INTERVAL', '100', 'gc.sweep.interval', 100],
  ['BOLLARD_SWEEP_GRACE', '10', 'gc.sweep.grace', 10],
  ['BOLLARD_UPLOAD_EXPIRY', '120', 'uploads.expiry', 120],
  ['BOLLARD_UPLOAD_RESUME_WINDOW', '30', 'uploads.resumeWindow', 30],
  ['BOLLARD_RETENTION_INTERVAL', '0', 'retention.interval', 0],
  ['BOLLARD_WEBHOOKS', 'false', 'webhooks.enabled', false],
  ['BOLLARD_WEBHOOK_POLL_MS', '50', 'webhooks.pollMs', 50],
  ['BOLLARD_WEBHOOK_TIMEOUT_MS', '500', 'webhooks.timeoutMs', 500],
  ['BOLLARD_WEBHOOK_BACKOFF_MS', '20', 'webhooks.backoffMs', 20],
  ['BOLLARD_WEBHOOK_BACKOFF_MAX_MS', '40', 'webhooks.backoffMaxMs', 40],
  ['BOLLARD_WEBHOOK_CONCURRENCY', '2', 'webhooks.concurrency', 2],
  ['BOLLARD_WEBHOOK_METRICS_MS', '1000', 'webhooks.metricsMs', 1000],
  ['BOLLARD_PROXY', 'hub=https://registry-1.docker.io, q=http://127.0.0.1:5001', 'proxy.upstreams', [{ prefix: 'hub', url: 'https://registry-1.docker.io' }, { prefix: 'q', url: 'http://127.0.0.1:5001' }]],
  ['BOLLARD_PROXY_MIRROR', 'http://127.0.0.1:5002', 'proxy.mirror', { url: 'http://127.0.0.1:5002' }],
  ['BOLLARD_PROXY_TAG_TTL', '0', 'proxy.tagTtl', 0],
  ['BOLLARD_PROXY_TIMEOUT', '5', 'proxy.timeout', 5],
];

const at = (tree: unknown, key: string): unknown => key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], tree);

const dir = mkdtempSync(join(tmpdir(), 'bollard-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the table above covers every variable the schema knows, under the key the schema gives it', () => {
  const known = new Map(settings().flatMap((s) => (s.env ? [[s.env, s.key] as const] : [])));
  expect(ROWS.map((r) => r[0]).sort()).toEqual([...known.keys()].sort());
  for (const [variable, , key] of ROWS) expect(known.get(variable), variable).toBe(key);
});

test.each(ROWS)('%s=%j sets %s', (variable, text, key, value, needs = {}) => {
  expect(at(loadConfig({ ...needs, [variable]: text }), key)).toEqual(value);
  const outcome = (env: NodeJS.ProcessEnv) => {
    try {
      return at(loadConfig(env), key);
    } catch (err) {
      return (err as Error).message;
    }
  };
  const others = Object.fromEntries(Object.entries(needs).filter(([k]) => k !== variable));
  expect(outcome({ ...others, [variable]: '' }), 'an empty variable counts as unset').toEqual(outcome(others));
});

test.each(ROWS)('%s: its file key %s sets the same value', (variable, _text, key, value, needs = {}) => {
  const file = join(dir, `${variable}.yaml`);
  const tree: Record<string, unknown> = {};
  key.split('.').reduce<Record<string, unknown>>((node, part, i, parts) => (node[part] = i === parts.length - 1 ? value : {}) as Record<string, unknown>, tree);
  writeFileSync(file, stringify(tree));
  expect(at(loadConfig({ ...needs, BOLLARD_CONFIG: file }), key)).toEqual(value);
});

test('the defaults are what the five loaders gave before', () => {
  const c = loadConfig({});
  expect(listenAddress(c)).toEqual({ host: '127.0.0.1', port: 5000 });
  expect(c.dataDir).toBe(join(process.cwd(), 'data'));
  expect(c.database).toEqual({ poolSize: 20, embeddedPort: 54329, connectTimeout: 60 });
  expect(storageConfig(c)).toEqual({ kind: 'fs', directIo: true });
  expect(httpLimits(c)).toEqual({ headersTimeoutMs: 30_000, bodyIdleMs: 60_000, maxUploads: 128 });
  expect(registryOptions(c)).toMatchObject({ deleteEnabled: true, autoMount: true, maxManifestBytes: 4 * 1024 * 1024, pageSizeMax: 10_000 });
  expect(registryOptions(c).proxy, 'no upstream, no pull-through cache').toBeUndefined();
  expect(authConfig(c)).toEqual({
    mode: 'none', realm: null, service: 'bollard', issuer: 'bollard', tokenTtlSeconds: 300, refreshTtlSeconds: 30 * 86_400,
    signingKey: null, adminPassword: null, loginLimits: { perClient: 30, perUser: 10, windowSeconds: 300 }, external: null,
  });
  expect(gcConfig(c)).toEqual({
    enabled: true, intervalSeconds: 60, policy: { reviewDelay: 86_400, untagged: 'keep', orphanReferrers: true },
    sweep: { intervalSeconds: 21_600, grace: 86_400, sessionIdle: 86_400, resumeWindow: 3600 },
  });
  expect(c.retention).toEqual({ interval: 3600 });
  expect(webhookConfig(c)).toEqual({ enabled: true, pollMs: 1000, timeoutMs: 10_000, backoffMs: 1000, backoffMaxMs: 3_600_000, concurrency: 16, metricsMs: 60_000 });
});

test('derived values keep their old rules: S3 sizes in bytes, the prefix ends in a slash, the audience defaults to the service', () => {
  const s3 = storageConfig(loadConfig({ BOLLARD_STORAGE: 's3', BOLLARD_S3_BUCKET: 'b-1', BOLLARD_S3_PREFIX: '/team', BOLLARD_S3_PART_SIZE_MB: '5' }));
  expect(s3).toMatchObject({ kind: 's3', bucket: 'b-1', prefix: 'team/', partSize: 5 * 1024 * 1024, copyObjectMax: 5120 * 1024 * 1024, endpoint: undefined });
  expect(authConfig(loadConfig({ ...EXTERNAL, BOLLARD_AUTH_SERVICE: 'reg' })).external).toEqual({
    keys: { jwksUrl: EXTERNAL.BOLLARD_AUTH_EXTERNAL_JWKS_URL }, issuer: 'idp', audience: 'reg', algorithms: ['RS256', 'ES256'],
  });
  expect(webhookConfig(loadConfig({ BOLLARD_WEBHOOK_BACKOFF_MS: '5000', BOLLARD_WEBHOOK_BACKOFF_MAX_MS: '100' })).backoffMaxMs).toBe(5000);
  expect(authConfig(loadConfig({ BOLLARD_AUTH_SIGNING_KEY_FILE: '/k.pem' })).signingKey).toEqual({ file: '/k.pem' });
});
