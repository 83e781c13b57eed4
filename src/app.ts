// createApp: wiring only. HTTP tests build the app through this function.
import express, { type Express } from 'express';
import type { DatabasePool } from 'slonik';
import { RegistryError } from './errors/codes.ts';
import { defaultHashThreads } from './digest/hash-pool.ts';
import type { Logger } from './logger.ts';
import type { Auth } from './auth/service.ts';
import { adminRouter } from './http/admin.ts';
import { tokenAuth } from './http/auth.ts';
import { errorHandler } from './http/errors.ts';
import { requestLimits, type HttpLimits } from './http/limits.ts';
import { tokenRouter } from './http/token.ts';
import { v2Router } from './http/v2.ts';
import type { RegistryContext, RegistryOptions } from './registry/context.ts';
import { HasherCache } from './registry/push/hasher-cache.ts';
import { KeptLeases } from './registry/push/kept-leases.ts';
import { ManifestCache } from './registry/content/manifest-cache.ts';
import type { BlobStore } from './storage/blob-store.ts';

export interface AppDeps {
  pool: DatabasePool;
  store: BlobStore;
  options: RegistryOptions;
  log: Logger;
  /** Shared with the change listener that keeps it coherent; absent: no caching. */
  manifestCache?: ManifestCache;
  /** Upload leases kept between chunks, shared with the listener that gives them back on request; absent: the app's own. */
  keptLeases?: KeptLeases;
  /** Token auth (BOLLARD_AUTH=token); absent: the API is open. */
  auth?: Auth;
  /**
   * Proxies whose X-Forwarded-For is believed (BOLLARD_TRUST_PROXY): a hop count or
   * addresses/subnets. Failed logins are counted per client address, which behind a
   * proxy is only known from that header. Absent: the socket's peer is the client.
   */
  trustProxy?: number | readonly string[];
  /** Idle-body timeout and the concurrent upload limit; absent: none. */
  limits?: HttpLimits;
}

export function createApp(deps: AppDeps): Express {
  const ctx: RegistryContext = {
    pool: deps.pool,
    store: deps.store,
    options: deps.options,
    hashers: new HasherCache({ threads: deps.options.hashThreads ?? defaultHashThreads() }),
    manifests: deps.manifestCache ?? new ManifestCache(),
    leases: deps.keptLeases ?? new KeptLeases(deps.pool),
  };
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');
  if (deps.trustProxy !== undefined) app.set('trust proxy', typeof deps.trustProxy === 'number' ? deps.trustProxy : [...deps.trustProxy]);
  if (deps.limits) app.use(requestLimits(deps.limits));
  if (deps.auth) {
    app.use(tokenRouter(deps.auth));
    app.use(tokenAuth(deps.auth));
  }
  app.use(adminRouter(deps.pool, deps.auth));
  app.use(v2Router(ctx));
  app.use((req, _res, next) => {
    next(new RegistryError('NAME_UNKNOWN', `no API endpoint at ${req.path}`));
  });
  app.use(errorHandler(deps.log));
  return app;
}
