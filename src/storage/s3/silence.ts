// Telling a hung S3 from a slow one. Every attempt is bounded by an idle timeout
// (client.ts), and a timed-out attempt is normally retried: one slow answer, or a
// stall of a busy server, is not an outage. But when S3 has answered nothing for
// another idle timeout after an attempt timed out, it has gone silent (it accepts
// connections and never answers, or packets are dropped), and retrying only
// multiplies the wait. So while S3 is silent a timed-out attempt ends its call at
// once: a hung S3 costs a request one or two idle timeouts instead of maxAttempts
// of them; no request fails for a timeout while other requests get answers; and
// the first answer from S3 (any status: a 500 is an answer) ends the silence.
// Only timeouts count: a reset connection (a stale keep-alive socket, say) is
// retried as the SDK does.
import type { S3Client } from '@aws-sdk/client-s3';

/** S3 is taken as silent for this long after a timeout, unless it answers meanwhile. */
const SILENCE_MEMORY_MS = 30_000;

export class Silence {
  private readonly graceMs: number;
  /** The first timeout since S3 last answered, or null. */
  private since: number | null = null;
  private lastTimeout = -Infinity;

  /** `graceMs`: how long after a timeout S3 must stay without answering to be silent (one idle timeout). */
  constructor(graceMs: number) {
    this.graceMs = graceMs;
  }

  answered(): void {
    this.since = null;
  }

  /** Notes a timed-out attempt; true when S3 is silent (the attempt is not worth retrying). */
  timedOut(): boolean {
    const now = performance.now();
    this.since ??= now;
    this.lastTimeout = now;
    return this.silent;
  }

  get silent(): boolean {
    const now = performance.now();
    return this.since !== null && now - this.since >= this.graceMs && now - this.lastTimeout < SILENCE_MEMORY_MS;
  }
}

/** A connect or idle timeout of the SDK's handler (which also names resets TimeoutError, with their code). */
export function isTimeout(err: unknown): boolean {
  const e = err as { name?: string; code?: string } | undefined;
  return e?.name === 'TimeoutError' && (e.code === undefined || e.code === 'ETIMEDOUT');
}

/** Not retried by the SDK (no code, status or cause it would take as transient); still an outage for storageError. */
export class S3Silent extends Error {
  override name = 'S3Silent';
}

/** What a client's calls share: its idle timeout and whether S3 has gone silent. */
export interface ClientHealth {
  idleTimeoutMs: number;
  silence: Silence;
}

const health = new WeakMap<S3Client, ClientHealth>();

export function healthOf(client: S3Client): ClientHealth | undefined {
  return health.get(client);
}

/**
 * Watches every attempt of the client's calls (innermost in the middleware stack,
 * inside the SDK's retry loop): a response is an answer, a timeout is noted, and a
 * timeout while S3 is silent becomes an S3Silent error, which ends the call.
 */
export function watchSilence(client: S3Client, h: ClientHealth): void {
  health.set(client, h);
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        const out = await next(args);
        h.silence.answered();
        return out;
      } catch (err) {
        if (isTimeout(err) && h.silence.timedOut()) {
          throw new S3Silent(`S3 did not answer (${(err as Error).message}), as on its previous attempts`);
        }
        throw err;
      }
    },
    { step: 'deserialize', priority: 'low', name: 'bollardSilenceWatch' },
  );
}
