// The app of the second listener (BOLLARD_METRICS_LISTEN): /metrics and the
// probes only, so they can be reached on an internal address while the registry
// listens on a public one. Wiring only, like app.ts.
import express, { type Express } from 'express';
import type { DatabasePool } from 'slonik';
import { RegistryError } from './errors/codes.ts';
import { accessLog, inRequestContext } from './http/access-log.ts';
import { errorHandler } from './http/errors.ts';
import { metricsRouter } from './http/metrics.ts';
import { probesRouter } from './http/probes.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './observability/metrics.ts';
import type { BlobStore } from './storage/blob-store.ts';

export function createOpsApp(deps: { metrics: Metrics; pool: DatabasePool; store: BlobStore; log: Logger }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // not counted in the HTTP metrics: those are the registry's traffic
  app.use(accessLog(deps.log));
  app.use(metricsRouter(deps.metrics), probesRouter(deps));
  app.use((req, _res, next) => {
    next(new RegistryError('NAME_UNKNOWN', `no endpoint at ${req.path} on the metrics listener`));
  });
  app.use(inRequestContext(errorHandler(deps.log)));
  return app;
}
