// Webhook delivery configuration, read from the environment and validated once.
import { z } from 'zod';
import type { WebhookConfig } from '../registry/webhooks.ts';
import { parseEnv } from './index.ts';

const bool = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));
const ms = (min: number, max: number, dflt: number) => z.coerce.number().int().min(min).max(max).default(dflt);

export const WebhookEnvSchema = z.object({
  /** Run the outbox worker in this process (every replica may; they share the work). */
  BOLLARD_WEBHOOKS: bool.default(true),
  BOLLARD_WEBHOOK_POLL_MS: ms(10, 60_000, 1000),
  BOLLARD_WEBHOOK_TIMEOUT_MS: ms(100, 300_000, 10_000),
  BOLLARD_WEBHOOK_BACKOFF_MS: ms(10, 3_600_000, 1000),
  BOLLARD_WEBHOOK_BACKOFF_MAX_MS: ms(10, 86_400_000, 3_600_000),
  BOLLARD_WEBHOOK_CONCURRENCY: ms(1, 256, 16),
  BOLLARD_WEBHOOK_METRICS_MS: ms(100, 86_400_000, 60_000),
});

export function loadWebhookConfig(env: NodeJS.ProcessEnv = process.env): WebhookConfig {
  const e = parseEnv(WebhookEnvSchema, env);
  return {
    enabled: e.BOLLARD_WEBHOOKS,
    pollMs: e.BOLLARD_WEBHOOK_POLL_MS,
    timeoutMs: e.BOLLARD_WEBHOOK_TIMEOUT_MS,
    backoffMs: e.BOLLARD_WEBHOOK_BACKOFF_MS,
    backoffMaxMs: Math.max(e.BOLLARD_WEBHOOK_BACKOFF_MAX_MS, e.BOLLARD_WEBHOOK_BACKOFF_MS),
    concurrency: e.BOLLARD_WEBHOOK_CONCURRENCY,
    metricsMs: e.BOLLARD_WEBHOOK_METRICS_MS,
  };
}
