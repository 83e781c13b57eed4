// Telling a hung S3 from a slow one. Every attempt is bounded by an idle timeout
// (client.ts), and a timed-out attempt is normally retried: one slow answer from a
// busy server is not an outage. But once attempts time out with no answer from S3
// in between, S3 has gone silent (it accepts connections and never answers, or
// packets are dropped), and retrying only multiplies the wait. So while S3 is
// silent, a timed-out attempt ends its call at once: an outage costs a request
// about one idle timeout instead of maxAttempts of them, and the first answer
// from S3 (any status: a 500 is an answer) ends the silence.
import type { S3Client } from '@aws-sdk/client-s3';

/** S3 is taken as silent for this long after a timeout, unless it answers meanwhile. */
const SILENCE_MEMORY_MS = 30_000;

export class Silence {
  private lastTimeout = -Infinity;
  private lastAnswer = -Infinity;

  answered(): void {
    this.lastAnswer = performance.now();
  }

  /** Notes a timed-out attempt; true when S3 was silent already (the attempt is not worth retrying). */
  timedOut(): boolean {
    const was = this.silent;
    this.lastTimeout = performance.now();
    return was;
  }

  /** Whether attempts have timed out lately with no answer since. */
  get silent(): boolean {
    return this.lastTimeout > this.lastAnswer && performance.now() - this.lastTimeout < SILENCE_MEMORY_MS;
  }
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
        if ((err as Error | undefined)?.name === 'TimeoutError' && h.silence.timedOut()) {
          throw new S3Silent(`S3 did not answer (${(err as Error).message}), as on its previous attempts`);
        }
        throw err;
      }
    },
    { step: 'deserialize', priority: 'low', name: 'bollardSilenceWatch' },
  );
}
