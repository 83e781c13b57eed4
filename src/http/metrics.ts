// GET /metrics (Prometheus text) and what the HTTP layer and the storage feed
// into the app's metrics (src/observability/metrics.ts).
import { Router } from 'express';
import type { Metrics } from '../observability/metrics.ts';
import type { ProxyObserver } from '../registry/proxy/proxy.ts';
import type { StorageObserver } from '../storage/instrumented.ts';
import type { Exchange } from './access-log.ts';

export function recordExchange(metrics: Metrics): (x: Exchange) => void {
  return (x) => {
    metrics.http.requests.inc({ method: x.method, route: x.route, status: String(x.status) });
    metrics.http.duration.observe({ method: x.method, route: x.route }, x.seconds);
    metrics.http.bytesIn.inc({ route: x.route }, x.bytesIn);
    metrics.http.bytesOut.inc({ route: x.route }, x.bytesOut);
  };
}

/** The pull-through cache's counters (docs/observability.md). */
export function proxyObserver(metrics: Metrics): ProxyObserver {
  return {
    pulled: (upstream, kind, result) => metrics.proxy.requests.inc({ upstream, kind, result }),
    // a not-found upstream is an answer, not a failure (it shows as the 404 it became)
    failed: (upstream, code) => {
      if (code !== 'BLOB_UNKNOWN' && code !== 'MANIFEST_UNKNOWN') metrics.proxy.upstreamErrors.inc({ upstream, code });
    },
    received: (upstream, bytes) => metrics.proxy.upstreamBytes.inc({ upstream }, bytes),
  };
}

export function storageObserver(metrics: Metrics): StorageObserver {
  return {
    observe(driver, operation, seconds, failed) {
      metrics.storage.duration.observe({ driver, operation }, seconds);
      if (failed) metrics.storage.errors.inc({ driver, operation });
    },
  };
}

export function metricsRouter(metrics: Metrics): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const body = await metrics.registry.metrics();
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.end(body);
  });
  return router;
}
