// `bollard serve`: configuration, dependencies, listen, graceful shutdown.
import type { Server } from 'node:http';
import { createApp } from './app.ts';
import { createHttpServer } from './http/server.ts';
import { createAuth } from './auth/service.ts';
import { loadAuthConfig } from './config/auth.ts';
import { loadConfig, type Config } from './config/index.ts';
import { loadWebhookConfig } from './config/webhooks.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded.ts';
import { migrate } from './db/migrate.ts';
import { openPool, type DatabasePool } from './db/pool.ts';
import { createLogger, type Logger } from './logger.ts';
import { createBlobStore } from './storage/index.ts';
import { listenForChanges, type Listener } from './db/notify.ts';
import { ManifestCache } from './registry/content/manifest-cache.ts';
import { KeptLeases } from './registry/push/kept-leases.ts';
import { loadGcConfig } from './config/gc.ts';
import { startGcWorker } from './registry/gc/worker.ts';
import { loadRetentionConfig } from './config/retention.ts';
import { startRetentionWorker } from './registry/retention/worker.ts';
import { startWebhookWorker } from './registry/events/webhooks.ts';

export interface RunningRegistry {
  url: string;
  config: Config;
  stop(): Promise<void>;
}

export async function serve(env: NodeJS.ProcessEnv = process.env): Promise<RunningRegistry> {
  const config = loadConfig(env);
  const authConfig = loadAuthConfig(env);
  const gcConfig = loadGcConfig(env);
  const retentionConfig = loadRetentionConfig(env);
  const webhookConfig = loadWebhookConfig(env);
  const log = createLogger(config.logLevel);
  let embedded: EmbeddedDatabase | null = null;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(config.dataDir, config.embeddedPostgresPort, log);
    databaseUrl = embedded.url;
  }
  let pool: DatabasePool | null = null;
  try {
    pool = await openPool(databaseUrl, { maximumPoolSize: config.dbPoolSize });
    const applied = await migrate(pool);
    if (applied.length > 0) log.info('migrations applied', { applied });
    const store = await createBlobStore(config);
    const manifestCache = new ManifestCache();
    const openPoolRef = pool;
    const keptLeases = new KeptLeases(pool);
    const listener = listenForChanges(
      databaseUrl,
      {
        onChange: (repo) => manifestCache.invalidate(repo),
        onState: (on) => manifestCache.setEnabled(on),
        onLeaseWanted: (id) => void keptLeases.giveBack(id),
        onHolder: (id) => keptLeases.setHolder(id),
      },
      log,
    );
    // leases taken before the holder lock is held name no holder, and outlive a crash by their full length
    await listener.ready;
    const auth = authConfig.mode === 'token' ? await createAuth(pool, authConfig, log) : undefined;
    const app = createApp({
      pool, store, log, options: config, manifestCache, keptLeases,
      ...(auth ? { auth } : {}),
      ...(config.trustProxy !== undefined ? { trustProxy: config.trustProxy } : {}),
      limits: config.http,
    });
    const server = await listen(app, config);
    const gc = gcConfig.enabled ? startGcWorker({ pool, store }, gcConfig, log) : null;
    const retention = startRetentionWorker(pool, retentionConfig.intervalSeconds, log);
    const webhooks = webhookConfig.enabled ? startWebhookWorker(pool, webhookConfig, log) : null;
    const url = `http://${config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host}:${addressPort(server)}`;
    log.info('bollard listening', {
      url, storage: store.name, dataDir: config.dataDir, embeddedPostgres: embedded !== null, auth: authConfig.mode,
      gc: gc !== null, webhooks: webhooks !== null,
    });
    return {
      url,
      config,
      stop: async () => {
        await gc?.stop();
        await retention.stop();
        await webhooks?.stop();
        // the listener goes last: its connection vouches for the leases of uploads still finishing
        await shutdown(server, openPoolRef, embedded, log, keptLeases, listener);
      },
    };
  } catch (err) {
    await pool?.end().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw err;
  }
}

function listen(app: ReturnType<typeof createApp>, config: Config): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createHttpServer(app, config.http);
    server.once('listening', () => resolve(server));
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host);
  });
}

function addressPort(server: Server): number {
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}

/** Stop accepting, let in-flight requests finish, then close the pool and the embedded database. */
async function shutdown(server: Server, pool: DatabasePool, embedded: EmbeddedDatabase | null, log: Logger, keptLeases: KeptLeases, listener: Listener): Promise<void> {
  log.info('shutting down');
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  // after the last request: another replica may continue these sessions at once
  await keptLeases.close();
  await listener.close();
  await pool.end();
  await embedded?.stop();
}
