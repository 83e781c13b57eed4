// Garbage collection and sweep configuration, read from the environment (all in seconds).
import { z } from 'zod';
import type { GcConfig } from '../registry/gc-worker.ts';
import { bool, parseEnv } from './index.ts';

const seconds = (dflt: number, min = 0) => z.coerce.number().int().min(min).max(10 * 365 * 86_400).default(dflt);
const DAY = 86_400;

export const GcEnvSchema = z.object({
  /** Run the collector and the sweeps in the server (one of N replicas suffices, all may). */
  BOLLARD_GC: bool.default(true),
  BOLLARD_GC_INTERVAL: seconds(60, 1),
  BOLLARD_GC_REVIEW_DELAY: seconds(DAY),
  BOLLARD_GC_UNTAGGED: z.enum(['keep', 'delete']).default('keep'),
  BOLLARD_GC_ORPHAN_REFERRERS: bool.default(true),
  BOLLARD_SWEEP_INTERVAL: seconds(6 * 3600, 1),
  /** Unreferenced objects and staged uploads younger than this are left alone (work in flight). */
  BOLLARD_SWEEP_GRACE: seconds(DAY),
  BOLLARD_UPLOAD_EXPIRY: seconds(DAY, 60),
  /** A session whose request was cut off (or whose process was killed) waits this long to be resumed. */
  BOLLARD_UPLOAD_RESUME_WINDOW: seconds(3600, 5),
});

export function loadGcConfig(env: NodeJS.ProcessEnv = process.env): GcConfig {
  const e = parseEnv(GcEnvSchema, env);
  return {
    enabled: e.BOLLARD_GC,
    intervalSeconds: e.BOLLARD_GC_INTERVAL,
    policy: { reviewDelay: e.BOLLARD_GC_REVIEW_DELAY, untagged: e.BOLLARD_GC_UNTAGGED, orphanReferrers: e.BOLLARD_GC_ORPHAN_REFERRERS },
    sweep: { intervalSeconds: e.BOLLARD_SWEEP_INTERVAL, grace: e.BOLLARD_SWEEP_GRACE, sessionIdle: e.BOLLARD_UPLOAD_EXPIRY, resumeWindow: e.BOLLARD_UPLOAD_RESUME_WINDOW },
  };
}
