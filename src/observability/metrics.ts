// The Prometheus metrics of one app: a registry of its own (not prom-client's
// global one), so tests can build several apps in one process. The names are
// fixed by the Grafana dashboard; docs/observability.md says what each means.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DatabasePool } from 'slonik';
import { backlogCounts, type BacklogCounts } from '../db/gauges.ts';
import { workTotals } from '../shared/telemetry.ts';

export interface Metrics {
  readonly registry: Registry;
  readonly http: {
    requests: Counter<'method' | 'route' | 'status'>;
    duration: Histogram<'method' | 'route'>;
    bytesIn: Counter<'route'>;
    bytesOut: Counter<'route'>;
  };
  readonly storage: {
    duration: Histogram<'driver' | 'operation'>;
    errors: Counter<'driver' | 'operation'>;
  };
  readonly proxy: {
    requests: Counter<'upstream' | 'kind' | 'result'>;
    upstreamErrors: Counter<'upstream' | 'code'>;
    upstreamBytes: Counter<'upstream'>;
  };
}

/** How long a scrape waits for the database counts before it reports the last ones it had. */
const COUNT_TIMEOUT_MS = 1000;

export function createMetrics(pool: DatabasePool, opts: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const http = {
    requests: new Counter({ name: 'bollard_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status (499: the client went away first)', labelNames: ['method', 'route', 'status'] as const, registers }),
    duration: new Histogram({
      name: 'bollard_http_request_duration_seconds',
      help: 'Time from the request reaching Bollard to its response sent (or the client gone)',
      labelNames: ['method', 'route'] as const,
      // blob transfers run long: the default buckets stop at 10 s
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    bytesIn: new Counter({ name: 'bollard_http_request_bytes_total', help: 'Bytes received on the wire, request headers included', labelNames: ['route'] as const, registers }),
    bytesOut: new Counter({ name: 'bollard_http_response_bytes_total', help: 'Bytes sent on the wire, response headers included', labelNames: ['route'] as const, registers }),
  };

  const storage = {
    duration: new Histogram({
      name: 'bollard_storage_operation_duration_seconds',
      help: 'Time of a storage operation; a stream returned by one is timed until it ends',
      labelNames: ['driver', 'operation'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    errors: new Counter({ name: 'bollard_storage_operation_errors_total', help: 'Storage operations that failed (an object not found is an answer, not an error)', labelNames: ['driver', 'operation'] as const, registers }),
  };

  new Gauge({
    name: 'bollard_db_pool_connections',
    help: 'Connections of this process\'s database pool, by state',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const s = pool.state();
      this.set({ state: 'in_use' }, s.acquiredConnections);
      this.set({ state: 'idle' }, s.idleConnections);
    },
  });
  new Gauge({ name: 'bollard_db_pool_waiting', help: 'Queries of this process waiting for a database connection', registers, collect() { this.set(pool.state().waitingClients); } });

  const counts = backlogSampler(pool);
  new Gauge({ name: 'bollard_upload_sessions_open', help: 'Upload sessions open in PostgreSQL (cluster-wide: every replica reports the same)', registers, async collect() { this.set((await counts()).upload_sessions); } });
  new Gauge({ name: 'bollard_webhook_backlog', help: 'Webhook deliveries not yet made (cluster-wide: every replica reports the same)', registers, async collect() { this.set((await counts()).webhook_backlog); } });

  mirror(registry, 'bollard_gc_runs_total', 'Garbage collection passes of this process, by outcome', 'outcome', () => workTotals.gcRuns);
  mirror(registry, 'bollard_gc_blobs_deleted_total', 'Blobs whose bytes the garbage collector deleted', null, () => workTotals.gcBlobsDeleted);
  mirror(registry, 'bollard_gc_bytes_deleted_total', 'Bytes the garbage collector freed in storage', null, () => workTotals.gcBytesDeleted);
  mirror(registry, 'bollard_upload_sweep_runs_total', 'Sweeps of abandoned upload sessions and staged bytes', null, () => workTotals.uploadSweepRuns);
  mirror(registry, 'bollard_retention_runs_total', 'Retention passes, by outcome (skipped: another replica held the turn)', 'outcome', () => workTotals.retentionRuns);
  mirror(registry, 'bollard_retention_manifests_deleted_total', 'Manifests the retention rules deleted', null, () => workTotals.retentionManifestsDeleted);
  mirror(registry, 'bollard_scrub_runs_total', 'Integrity scrubs run in this process, by outcome', 'outcome', () => workTotals.scrubRuns);
  mirror(registry, 'bollard_scrub_problems_total', 'Damaged or missing objects the scrubs found', null, () => workTotals.scrubProblems);
  mirror(registry, 'bollard_webhook_deliveries_total', 'Webhook delivery attempts, by outcome', 'outcome', () => workTotals.webhookDeliveries);

  const proxy = {
    requests: new Counter({ name: 'bollard_proxy_requests_total', help: 'Pulls of proxied repositories, by upstream prefix, kind (manifest, blob) and result (hit, miss, stale)', labelNames: ['upstream', 'kind', 'result'] as const, registers }),
    upstreamErrors: new Counter({ name: 'bollard_proxy_upstream_errors_total', help: 'Upstream requests that failed, by upstream prefix and the OCI code the client was given', labelNames: ['upstream', 'code'] as const, registers }),
    upstreamBytes: new Counter({ name: 'bollard_proxy_upstream_bytes_total', help: 'Manifest and blob bytes received from upstreams', labelNames: ['upstream'] as const, registers }),
  };

  return { registry, http, storage, proxy };
}

/** A counter whose value is a process-wide total kept in src/shared/telemetry.ts, read at scrape time. */
function mirror(registry: Registry, name: string, help: string, label: string | null, read: () => number | Record<string, number>): void {
  new Counter({
    name,
    help,
    labelNames: label ? [label] : [],
    registers: [registry],
    collect() {
      const value = read();
      this.reset();
      if (typeof value === 'number') this.inc(value);
      else for (const [k, v] of Object.entries(value)) this.inc({ [label as string]: k }, v);
    },
  });
}

/**
 * The database counts, asked once per scrape however many gauges want them, and
 * bounded in time: a scrape while PostgreSQL is down or slow reports the last
 * counts instead of hanging or failing (zero until the first count succeeds).
 */
function backlogSampler(pool: DatabasePool): () => Promise<BacklogCounts> {
  let last: BacklogCounts = { upload_sessions: 0, webhook_backlog: 0 };
  let pending: Promise<BacklogCounts> | null = null;
  return () => {
    pending ??= (async () => {
      const query = backlogCounts(pool);
      query.catch(() => undefined); // still pending when the timeout wins
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), COUNT_TIMEOUT_MS);
      });
      try {
        last = await Promise.race([query, timeout]);
      } catch {
        // keep the last counts
      } finally {
        clearTimeout(timer);
        pending = null;
      }
      return last;
    })();
    return pending;
  };
}
