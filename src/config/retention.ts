// Retention configuration, read apart from the core config like auth's.
import { z } from 'zod';
import { parseEnv } from './index.ts';

export const RetentionEnvSchema = z.object({
  /** Seconds between background retention passes; 0 turns them off. */
  BOLLARD_RETENTION_INTERVAL: z.coerce.number().int().min(0).max(30 * 86_400).default(3600),
});

export function loadRetentionConfig(env: NodeJS.ProcessEnv = process.env): { intervalSeconds: number } {
  return { intervalSeconds: parseEnv(RetentionEnvSchema, env).BOLLARD_RETENTION_INTERVAL };
}
