// createApp: wiring only. HTTP tests build the app through this function.
import express, { type Express } from 'express';
import type { DatabasePool } from 'slonik';
import { RegistryError } from './errors/codes.ts';
import { defaultHashThreads } from './digest/hash-pool.ts';
import type { Logger } from './logger.ts';
import type { Auth } from './auth/service.ts';
import { accessLog, inRequestContext } from './http/access-log.ts';
import { dispatcher } from './http/dispatch.ts';
import { errorHandler } from './http/errors.ts';
import { requestLimits, type HttpLimits } from './http/limits.ts';
import { metricsRouter, proxyObserver, recordExchange, storageObserver } from './http/metrics.ts';
import { probesRouter } from './http/probes.ts';
import { preloadUi } from './http/ui-static.ts';
import type { RegistryContext, RegistryOptions } from './registry/context.ts';
import { HasherCache } from './registry/push/hasher-cache.ts';
import { KeptLeases } from './registry/push/kept-leases.ts';
import { manifestCommits } from './registry/content/manifest-commit.ts';
import { ManifestCache } from './registry/content/manifest-cache.ts';
import type { PullRecorder } from './registry/content/pulls.ts';
import type { ProxyOptions } from './registry/proxy/options.ts';
import { Proxy } from './registry/proxy/proxy.ts';
import type { FlightSignals } from './registry/proxy/signals.ts';
import { createMetrics, type Metrics } from './observability/metrics.ts';
import type { BlobStore } from './storage/blob-store.ts';
import { instrumentStore } from './storage/instrumented.ts';

export interface AppDeps {
  pool: DatabasePool;
  store: BlobStore;
  options: RegistryOptions;
  log: Logger;
  /** Shared with the change listener that keeps it coherent; absent: no caching. */
  manifestCache?: ManifestCache;
  /** Upload leases kept between chunks, shared with the listener that gives them back on request; absent: the app's own. */
  keptLeases?: KeptLeases;
  /** Woken by main.ts's listener when another replica's upstream fetch ends; absent: this app's own. */
  flightSignals?: FlightSignals;
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
  /** The process's metrics, shared with what main.ts runs beside the app; absent: the app's own. */
  metrics?: Metrics;
  /** false when /metrics and the probes are served on a listener of their own (BOLLARD_METRICS_LISTEN). */
  opsEndpoints?: boolean;
  /** Counts manifest pulls (flushed by its owner); absent: pulls are not recorded. */
  pulls?: PullRecorder;
}

export function createApp(deps: AppDeps): Express {
  const metrics = deps.metrics ?? createMetrics(deps.pool);
  const ctx: RegistryContext = {
    pool: deps.pool,
    store: instrumentStore(deps.store, storageObserver(metrics)),
    options: deps.options,
    hashers: new HasherCache({ threads: deps.options.hashThreads ?? defaultHashThreads() }),
    manifests: deps.manifestCache ?? new ManifestCache(),
    commits: manifestCommits(deps.pool),
    leases: deps.keptLeases ?? new KeptLeases(deps.pool),
    proxy: proxies(deps.options.proxy) ? new Proxy(deps.options.proxy, (msg, fields) => deps.log.warn(msg, fields), proxyObserver(metrics), deps.flightSignals) : null,
    pulls: deps.pulls ?? null,
  };
  preloadUi(); // a broken web UI source fails here, at start, not at its first visit
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');
  if (deps.trustProxy !== undefined) app.set('trust proxy', typeof deps.trustProxy === 'number' ? deps.trustProxy : [...deps.trustProxy]);
  app.use(accessLog(deps.log, recordExchange(metrics)));
  // ahead of auth and limits: probes and scrapes need no token and are never refused as busy
  if (deps.opsEndpoints !== false) app.use(metricsRouter(metrics), probesRouter(deps));
  if (deps.limits) app.use(requestLimits(deps.limits));
  app.use(dispatcher({ ctx, auth: deps.auth ?? null }));
  app.use((req, _res, next) => {
    next(new RegistryError('NAME_UNKNOWN', `no API endpoint at ${req.path}`));
  });
  app.use(inRequestContext(errorHandler(deps.log)));
  return app;
}

/** Whether any name is proxied: an upstream or a mirror is configured. */
function proxies(options: ProxyOptions | undefined): options is ProxyOptions {
  return !!options && (options.upstreams.length > 0 || options.mirror !== undefined);
}
