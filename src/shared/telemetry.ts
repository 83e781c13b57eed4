// Counts of the background work (GC, sweeps, retention, scrub, webhooks), kept
// per process. The workers only add to them here; src/observability/metrics.ts
// reads them when Prometheus scrapes. A plain module of numbers rather than a
// metrics library in the workers: the registry layer stays free of prom-client,
// and every app's metrics registry (tests build several per process) reads the
// same process-wide totals without subscribing to anything.

export type RunOutcome = 'ok' | 'failed';

export const workTotals = {
  gcRuns: { ok: 0, failed: 0 } as Record<RunOutcome, number>,
  gcBlobsDeleted: 0,
  gcBytesDeleted: 0,
  uploadSweepRuns: 0,
  retentionRuns: { ok: 0, failed: 0, skipped: 0 } as Record<RunOutcome | 'skipped', number>,
  retentionManifestsDeleted: 0,
  scrubRuns: { ok: 0, failed: 0 } as Record<RunOutcome, number>,
  scrubProblems: 0,
  webhookDeliveries: { delivered: 0, failed: 0 } as Record<'delivered' | 'failed', number>,
};

export function countGcRun(outcome: RunOutcome, deleted: { blobs: number; bytes: number } = { blobs: 0, bytes: 0 }): void {
  workTotals.gcRuns[outcome] += 1;
  workTotals.gcBlobsDeleted += deleted.blobs;
  workTotals.gcBytesDeleted += deleted.bytes;
}

export function countUploadSweep(): void {
  workTotals.uploadSweepRuns += 1;
}

export function countRetentionRun(outcome: RunOutcome | 'skipped', manifestsDeleted = 0): void {
  workTotals.retentionRuns[outcome] += 1;
  workTotals.retentionManifestsDeleted += manifestsDeleted;
}

export function countScrubRun(outcome: RunOutcome, problems = 0): void {
  workTotals.scrubRuns[outcome] += 1;
  workTotals.scrubProblems += problems;
}

export function countWebhookDelivery(outcome: 'delivered' | 'failed'): void {
  workTotals.webhookDeliveries[outcome] += 1;
}
