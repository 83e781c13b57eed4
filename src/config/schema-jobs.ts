// The background work of `bollard serve`: garbage collection and sweeps, upload
// session expiry, retention passes and webhook delivery. Durations in seconds,
// except the webhook ones (milliseconds, as their variables say).
import { z } from 'zod';
import { bool, env, int } from './fields.ts';

const DAY = 86_400;
const seconds = (dflt: number, min = 0) => int(min, 10 * 365 * DAY).default(dflt);
const ms = (min: number, max: number, dflt: number) => int(min, max).default(dflt);

export const GcSchema = z.strictObject({
  /** Run the collector and the sweeps in this process (one of N replicas suffices, all may). */
  enabled: env('BOLLARD_GC', bool.default(true)),
  interval: env('BOLLARD_GC_INTERVAL', seconds(60, 1)),
  /** Protects layers pushed before their manifest. */
  reviewDelay: env('BOLLARD_GC_REVIEW_DELAY', seconds(DAY)),
  untagged: env('BOLLARD_GC_UNTAGGED', z.enum(['keep', 'delete']).default('keep')),
  orphanReferrers: env('BOLLARD_GC_ORPHAN_REFERRERS', bool.default(true)),
  sweep: z.strictObject({
    interval: env('BOLLARD_SWEEP_INTERVAL', seconds(6 * 3600, 1)),
    /** Unreferenced objects and staged uploads younger than this are left alone (work in flight). */
    grace: env('BOLLARD_SWEEP_GRACE', seconds(DAY)),
  }).prefault({}),
});

export const UploadsSchema = z.strictObject({
  /** Seconds a session may stay idle between requests. */
  expiry: env('BOLLARD_UPLOAD_EXPIRY', seconds(DAY, 60)),
  /** A session whose request was cut off (or whose process was killed) waits this long to be resumed. */
  resumeWindow: env('BOLLARD_UPLOAD_RESUME_WINDOW', seconds(3600, 5)),
});

export const RetentionSchema = z.strictObject({
  /** Seconds between background retention passes; 0 turns them off. */
  interval: env('BOLLARD_RETENTION_INTERVAL', int(0, 30 * DAY).default(3600)),
});

export const WebhooksSchema = z.strictObject({
  /** Run the outbox worker in this process (every replica may; they share the work). */
  enabled: env('BOLLARD_WEBHOOKS', bool.default(true)),
  pollMs: env('BOLLARD_WEBHOOK_POLL_MS', ms(10, 60_000, 1000)),
  timeoutMs: env('BOLLARD_WEBHOOK_TIMEOUT_MS', ms(100, 300_000, 10_000)),
  backoffMs: env('BOLLARD_WEBHOOK_BACKOFF_MS', ms(10, 3_600_000, 1000)),
  /** Raised to backoffMs when lower. */
  backoffMaxMs: env('BOLLARD_WEBHOOK_BACKOFF_MAX_MS', ms(10, 86_400_000, 3_600_000)),
  /** Deliveries claimed (and sent in parallel) per round: at most one per (endpoint, repository). */
  concurrency: env('BOLLARD_WEBHOOK_CONCURRENCY', ms(1, 256, 16)),
  metricsMs: env('BOLLARD_WEBHOOK_METRICS_MS', ms(100, 86_400_000, 60_000)),
});
