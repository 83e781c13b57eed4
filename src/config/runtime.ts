// The configuration turned into the option types the layers below declare
// (storage/options.ts, auth/options.ts, the registry's workers and context, the
// HTTP limits): units become what the code counts in, and defaults that depend on
// other settings are filled in. Only the composition root (main.ts, cli/) calls these.
import type { AuthConfig } from '../auth/options.ts';
import type { HttpLimits } from '../http/limits.ts';
import type { RegistryOptions } from '../registry/context.ts';
import type { GcConfig } from '../registry/gc/worker.ts';
import type { WebhookConfig } from '../registry/events/webhooks.ts';
import type { StorageConfig } from '../storage/options.ts';
import type { Config } from './schema.ts';

const MiB = 1024 * 1024;

export function listenAddress(c: Config): { host: string; port: number } {
  return hostPort(c.listen);
}

/** The separate address of /metrics and the probes; undefined: the main listener serves them. */
export function metricsAddress(c: Config): { host: string; port: number } | undefined {
  return c.metricsListen === undefined ? undefined : hostPort(c.metricsListen);
}

function hostPort(v: string): { host: string; port: number } {
  const idx = v.lastIndexOf(':');
  return { host: v.slice(0, idx).replace(/^\[|\]$/g, ''), port: Number(v.slice(idx + 1)) };
}

/** The PEM pair to serve HTTPS with; undefined: plain HTTP. */
export function tlsFiles(c: Config): { certFile: string; keyFile: string } | undefined {
  const { certFile, keyFile } = c.tls;
  return certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined;
}

export function storageConfig(c: Config): StorageConfig {
  if (c.storage.driver === 'fs') return { kind: 'fs', directIo: c.storage.fs.directIo };
  const s = c.storage.s3;
  const prefix = s.prefix.replace(/^\/+/, '');
  return {
    kind: 's3',
    bucket: s.bucket as string, // required for s3 by ConfigSchema
    endpoint: s.endpoint,
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`,
    redirect: s.redirect,
    partSize: s.partSizeMb * MiB,
    uploadConcurrency: s.uploadConcurrency,
    copyObjectMax: s.copyObjectMaxMb * MiB,
    ...(s.accessKeyId && s.secretAccessKey ? { credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey } } : {}),
  };
}

/** What createBlobStore takes. */
export function blobStoreConfig(c: Config): { dataDir: string; storage: StorageConfig } {
  return { dataDir: c.dataDir, storage: storageConfig(c) };
}

export function authConfig(c: Config): AuthConfig {
  const a = c.auth;
  const x = a.external;
  const keys = x.jwksUrl ? { jwksUrl: x.jwksUrl } : x.jwksFile ? { jwksFile: x.jwksFile } : x.pemFile ? { pemFile: x.pemFile } : null;
  return {
    mode: a.mode,
    realm: a.realm ?? null,
    service: a.service,
    issuer: a.issuer,
    tokenTtlSeconds: a.tokenTtl,
    refreshTtlSeconds: a.refreshTtl,
    signingKey: a.signingKey ? { pem: a.signingKey } : a.signingKeyFile ? { file: a.signingKeyFile } : null,
    adminPassword: a.adminPassword ?? null,
    loginLimits: { perClient: a.login.failuresPerClient, perUser: a.login.failuresPerUser, windowSeconds: a.login.window },
    external: keys && x.issuer
      ? { keys, issuer: x.issuer, audience: x.audience ?? a.service, algorithms: x.algorithms ?? ['RS256', 'ES256'] }
      : null,
  };
}

export function gcConfig(c: Config): GcConfig {
  return {
    enabled: c.gc.enabled,
    intervalSeconds: c.gc.interval,
    policy: { reviewDelay: c.gc.reviewDelay, untagged: c.gc.untagged, orphanReferrers: c.gc.orphanReferrers },
    sweep: { intervalSeconds: c.gc.sweep.interval, grace: c.gc.sweep.grace, sessionIdle: c.uploads.expiry, resumeWindow: c.uploads.resumeWindow },
  };
}

export function webhookConfig(c: Config): WebhookConfig {
  const w = c.webhooks;
  return { ...w, backoffMaxMs: Math.max(w.backoffMaxMs, w.backoffMs) };
}

export function registryOptions(c: Config): RegistryOptions {
  const upstreams = c.proxy.upstreams ?? [];
  const mirror = c.proxy.mirror;
  if (upstreams.length === 0 && !mirror) return { ...c.registry };
  const proxy = { upstreams: upstreams.map(upstreamOptions), tagTtlSeconds: c.proxy.tagTtl, timeoutMs: c.proxy.timeout * 1000 };
  return { ...c.registry, proxy: mirror ? { ...proxy, mirror: upstreamOptions(mirror) } : proxy };
}

/** An upstream's own tagTtl and timeout in the units the proxy counts in; what is unset stays unset (the section's applies). */
function upstreamOptions<T extends { tagTtl?: number; timeout?: number }>(u: T): Omit<T, 'tagTtl' | 'timeout'> & { tagTtlSeconds?: number; timeoutMs?: number } {
  const { tagTtl, timeout, ...rest } = u;
  return { ...rest, ...(tagTtl !== undefined ? { tagTtlSeconds: tagTtl } : {}), ...(timeout !== undefined ? { timeoutMs: timeout * 1000 } : {}) };
}

export function httpLimits(c: Config): HttpLimits & { headersTimeoutMs: number } {
  return { headersTimeoutMs: c.http.headersTimeout * 1000, bodyIdleMs: c.http.bodyIdleTimeout * 1000, maxUploads: c.http.maxUploads };
}

/** Where an operator command finds its database (src/db/embedded-attach.ts). */
export function databaseLocation(c: Config): { databaseUrl: string | undefined; dataDir: string; embeddedPostgresPort: number } {
  return { databaseUrl: c.database.url, dataDir: c.dataDir, embeddedPostgresPort: c.database.embeddedPort };
}
