// The outbox worker: sends the rows the events trigger queued (src/db/webhooks.ts
// has the claim protocol) as signed JSON POSTs, retrying with exponential backoff
// and jitter. Each replica may run one; they share the work through the claims.
import { randomUUID } from 'node:crypto';
import type { DatabasePool } from 'slonik';
import { eventsById, type EventRow } from '../../db/events.ts';
import { claimDeliveries, markDelivered, markFailed, outboxBacklog, releaseLeases, type ClaimedDelivery } from '../../db/webhooks.ts';
import type { Logger } from '../../logger.ts';
import { countWebhookDelivery } from '../../shared/telemetry.ts';
import { toClientEvent } from './client-view.ts';
import { SIGNATURE_HEADER, signatureHeader } from './webhook-signature.ts';

/** How the worker delivers; src/config produces it. */
export interface WebhookConfig {
  enabled: boolean;
  pollMs: number;
  timeoutMs: number;
  backoffMs: number;
  backoffMaxMs: number;
  /** Deliveries claimed (and sent in parallel) per round: at most one per (endpoint, repository). */
  concurrency: number;
  metricsMs: number;
}

export interface WebhookMetrics {
  delivered: number;
  failed: number;
}

export interface WebhookWorker {
  readonly metrics: WebhookMetrics;
  /** Finishes or abandons (lease released) what is in flight, then returns. */
  stop(): Promise<void>;
}

type Outcome = 'delivered' | 'failed' | 'abandoned';

export function startWebhookWorker(pool: DatabasePool, config: WebhookConfig, log: Logger): WebhookWorker {
  const token = randomUUID(); // this worker's lease token
  const stopping = new AbortController();
  const metrics: WebhookMetrics = { delivered: 0, failed: 0 };
  const leaseMs = config.timeoutMs + 30_000;

  const round = async (): Promise<number> => {
    const claimed = await claimDeliveries(pool, token, config.concurrency, leaseMs);
    if (claimed.length === 0) return 0;
    const events = new Map((await eventsById(pool, [...new Set(claimed.map((c) => c.event_id))])).map((e) => [e.id, e]));
    const outcomes = await Promise.all(claimed.map((c) => deliver(c, events.get(c.event_id))));
    const abandoned = claimed.filter((_, i) => outcomes[i] === 'abandoned').map((c) => c.id);
    await releaseLeases(pool, abandoned, token);
    return claimed.length;
  };

  const deliver = async (c: ClaimedDelivery, event: EventRow | undefined): Promise<Outcome> => {
    if (event === undefined) {
      await markDelivered(pool, c.id, token); // the event is gone: nothing left to say
      return 'delivered';
    }
    const result = await post(c, event, config.timeoutMs, stopping.signal);
    if (result === null) {
      metrics.delivered++;
      countWebhookDelivery('delivered');
      await markDelivered(pool, c.id, token);
      return 'delivered';
    }
    if (stopping.signal.aborted) return 'abandoned';
    metrics.failed++;
    countWebhookDelivery('failed');
    const delay = backoff(config, c.attempts);
    log.debug('webhook delivery failed', { endpoint: c.url, event: event.id, attempt: c.attempts + 1, retryInMs: delay, error: result });
    await markFailed(pool, c.id, token, delay, result);
    return 'failed';
  };

  const loop = async () => {
    while (!stopping.signal.aborted) {
      let sent = 0;
      try {
        sent = await round();
      } catch (err) {
        if (!stopping.signal.aborted) log.warn('webhook worker round failed', { error: String(err) });
      }
      if (sent === 0) await sleep(config.pollMs, stopping.signal);
    }
  };

  const running = loop();
  const timer = setInterval(() => void logMetrics(pool, metrics, log), config.metricsMs);
  timer.unref();
  return {
    metrics,
    stop: async () => {
      clearInterval(timer);
      stopping.abort();
      await running;
    },
  };
}

/** null when the endpoint answered 2xx; otherwise why not. */
async function post(c: ClaimedDelivery, event: EventRow, timeoutMs: number, stop: AbortSignal): Promise<string | null> {
  const body = JSON.stringify(toClientEvent(event));
  const headers = {
    'Content-Type': 'application/json',
    'User-Agent': 'bollard-webhooks',
    'Idempotency-Key': String(event.id),
    [SIGNATURE_HEADER]: signatureHeader(c.secret, Math.floor(Date.now() / 1000), body),
  };
  try {
    const res = await fetch(c.url, {
      method: 'POST',
      body,
      headers,
      redirect: 'manual',
      signal: AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]),
    });
    await res.body?.cancel().catch(() => undefined);
    return res.status >= 200 && res.status < 300 ? null : `HTTP ${res.status}`;
  } catch (err) {
    return err instanceof Error && err.name === 'TimeoutError' ? `timeout after ${timeoutMs} ms` : String(err);
  }
}

/** Exponential in the attempts made, capped, with jitter so failed endpoints are not hit in waves. */
export function backoff(config: Pick<WebhookConfig, 'backoffMs' | 'backoffMaxMs'>, attemptsBefore: number): number {
  const exp = Math.min(config.backoffMaxMs, config.backoffMs * 2 ** Math.min(attemptsBefore, 30));
  return Math.round(exp / 2 + (Math.random() * exp) / 2);
}

async function logMetrics(pool: DatabasePool, metrics: WebhookMetrics, log: Logger): Promise<void> {
  try {
    log.info('webhook metrics', { ...metrics, backlog: await outboxBacklog(pool) });
  } catch (err) {
    log.warn('webhook metrics failed', { error: String(err) });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
