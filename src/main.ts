// `bollard serve`: configuration, dependencies, listen, graceful shutdown.
import type { Server } from 'node:http';
import { createApp } from './app.ts';
import { createOpsApp } from './ops-app.ts';
import { storageObserver } from './http/metrics.ts';
import { createMetrics } from './observability/metrics.ts';
import { instrumentStore } from './storage/instrumented.ts';
import { createHttpServer } from './http/server.ts';
import { loadTlsPair, watchTlsFiles, describeCertificate } from './http/tls.ts';
import { databaseTarget, retryWhileUnreachable } from './db/connect-retry.ts';
import type { Stoppable } from './lifecycle/shutdown.ts';
import { createAuth } from './auth/service.ts';
import { loadConfig, type Config } from './config/index.ts';
import { authConfig as authOf, blobStoreConfig, gcConfig as gcOf, httpLimits, listenAddress, metricsAddress, registryOptions, tlsFiles, webhookConfig as webhooksOf } from './config/runtime.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded.ts';
import { migrate } from './db/migrate.ts';
import { openPool, type DatabasePool } from './db/pool.ts';
import { createLogger, type Logger } from './logger.ts';
import { createBlobStore } from './storage/index.ts';
import { listenForChanges, type Listener } from './db/notify.ts';
import { ManifestCache } from './registry/content/manifest-cache.ts';
import { PullRecorder } from './registry/content/pulls.ts';
import { KeptLeases } from './registry/push/kept-leases.ts';
import { FlightSignals } from './registry/proxy/signals.ts';
import { startGcWorker } from './registry/gc/worker.ts';
import { startRetentionWorker } from './registry/retention/worker.ts';
import { startWebhookWorker } from './registry/events/webhooks.ts';

export interface RunningRegistry extends Stoppable {
  url: string;
  config: Config;
}

export async function serve(env: NodeJS.ProcessEnv = process.env): Promise<RunningRegistry> {
  const config = loadConfig(env);
  const authConfig = authOf(config);
  const gcConfig = gcOf(config);
  const webhookConfig = webhooksOf(config);
  const limits = httpLimits(config);
  const address = listenAddress(config);
  const metricsAt = metricsAddress(config);
  const tls = tlsFiles(config);
  const log = createLogger(config.logLevel);
  let embedded: EmbeddedDatabase | null = null;
  let databaseUrl = config.database.url;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(config.dataDir, config.database.embeddedPort, log);
    databaseUrl = embedded.url;
  }
  let pool: DatabasePool | null = null;
  try {
    // an external database may come up after Bollard (src/db/connect-retry.ts)
    const dbUrl = databaseUrl;
    const opened = await retryWhileUnreachable(() => openMigrated(dbUrl, config.database.poolSize), {
      timeoutMs: embedded ? 0 : config.database.connectTimeout * 1000, target: databaseTarget(databaseUrl), log,
    });
    pool = opened.pool;
    const applied = opened.applied;
    if (applied.length > 0) log.info('migrations applied', { applied });
    const metrics = createMetrics(pool);
    const store = instrumentStore(await createBlobStore(blobStoreConfig(config), (s) =>
        log.warn(s.mode === 'direct' ? 'uploads staged with direct writes again' : 'uploads staged through the page cache: direct writes are not keeping up', {
          directMBps: Math.round(s.directRate / 1e6), bufferedMBps: Math.round(s.bufferedRate / 1e6), arrivalMBps: Math.round(s.arrivalRate / 1e6), directBusy: Number(s.directBusy.toFixed(2)),
        }),
      ), storageObserver(metrics));
    const manifestCache = new ManifestCache();
    const openPoolRef = pool;
    const keptLeases = new KeptLeases(pool);
    const flightSignals = new FlightSignals();
    const listener = listenForChanges(
      databaseUrl,
      {
        onChange: (repo) => manifestCache.invalidate(repo),
        onState: (on) => manifestCache.setEnabled(on),
        onLeaseWanted: (id) => void keptLeases.giveBack(id),
        onHolder: (id) => keptLeases.setHolder(id),
        onFetchEnded: (key) => flightSignals.wake(key),
      },
      log,
    );
    // leases taken before the holder lock is held name no holder, and outlive a crash by their full length
    await listener.ready;
    const pulls = new PullRecorder(pool, log);
    pulls.start();
    const auth = authConfig.mode === 'token' ? await createAuth(pool, authConfig, log) : undefined;
    const app = createApp({
      pool, store, log, options: registryOptions(config), manifestCache, keptLeases, flightSignals,
      ...(auth ? { auth } : {}),
      ...(config.http.trustProxy !== undefined ? { trustProxy: config.http.trustProxy } : {}),
      limits, metrics, opsEndpoints: metricsAt === undefined, pulls,
    });
    const tlsPair = tls ? await loadTlsPair(tls) : undefined;
    const server = await listen(app, address, limits, tlsPair);
    const tlsWatch = tls && tlsPair ? watchTlsFiles(server as unknown as Parameters<typeof watchTlsFiles>[0], tls, tlsPair, log) : null;
    // the metrics address is an internal one: plain HTTP
    const opsServer = metricsAt ? await listen(createOpsApp({ metrics, pool, store, log }), metricsAt, limits) : null;
    const gc = gcConfig.enabled ? startGcWorker({ pool, store }, gcConfig, log) : null;
    const retention = startRetentionWorker(pool, config.retention.interval, log);
    const webhooks = webhookConfig.enabled ? startWebhookWorker(pool, webhookConfig, log) : null;
    const url = urlOf(tlsPair ? 'https' : 'http', address.host, server);
    log.info('bollard listening', {
      url, ...(opsServer ? { metricsUrl: urlOf('http', metricsAt?.host ?? '', opsServer) } : {}), storage: store.name, dataDir: config.dataDir, embeddedPostgres: embedded !== null, auth: authConfig.mode,
      gc: gc !== null, webhooks: webhooks !== null, ...(tlsPair ? { tls: describeCertificate(tlsPair.cert) } : {}),
    });
    return {
      url,
      config,
      log,
      shutdownTimeoutMs: config.shutdownTimeout * 1000,
      reloadsOnHup: tlsWatch !== null,
      closeConnections: () => server.closeAllConnections(),
      abort: async () => {
        await embedded?.abort();
      },
      stop: async () => {
        tlsWatch?.stop();
        await gc?.stop();
        await retention.stop();
        await webhooks?.stop();
        opsServer?.close();
        opsServer?.closeAllConnections();
        // the listener goes last: its connection vouches for the leases of uploads still finishing
        await shutdown(server, openPoolRef, embedded, log, { keptLeases, listener, pulls });
      },
    };
  } catch (err) {
    await pool?.end().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw err;
  }
}

/** slonik connects when the pool is made: a pool whose migration failed is ended, for the next attempt to start afresh. */
async function openMigrated(url: string, size: number): Promise<{ pool: DatabasePool; applied: string[] }> {
  const pool = await openPool(url, { maximumPoolSize: size });
  try {
    return { pool, applied: await migrate(pool) };
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
}

function listen(app: ReturnType<typeof createApp>, at: { host: string; port: number }, limits: ReturnType<typeof httpLimits>, tls?: { cert: Buffer; key: Buffer }): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createHttpServer(app, limits, tls);
    server.once('listening', () => resolve(server));
    server.once('error', reject);
    server.listen(at.port, at.host);
  });
}

function urlOf(scheme: 'http' | 'https', host: string, server: Server): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${addressPort(server)}`;
}

function addressPort(server: Server): number {
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}

/** Stop accepting, let in-flight requests finish, then close the pool and the embedded database. */
async function shutdown(
  server: Server, pool: DatabasePool, embedded: EmbeddedDatabase | null, log: Logger,
  { keptLeases, listener, pulls }: { keptLeases: KeptLeases; listener: Listener; pulls: PullRecorder },
): Promise<void> {
  log.info('shutting down');
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  // after the last request: another replica may continue these sessions at once
  await keptLeases.close();
  await pulls.stop(); // the pulls of the last seconds, counted before the pool closes
  await listener.close();
  await pool.end();
  await embedded?.stop();
}
