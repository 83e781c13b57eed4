// In-process hash state of open upload sessions. Node cannot serialise a
// SHA-256 state, so the fast path keeps the live hasher here; a session that
// arrives at a process without it (a restart, another replica) has its state
// rebuilt by re-reading the bytes staged so far.
import type { Readable } from 'node:stream';
import type { DigestAlgorithm } from '../../digest/digest.ts';
import { hashPool, type HashPool } from '../../digest/hash-pool.ts';
import { DualHasher, type StreamHasher } from '../../digest/hasher.ts';

interface Entry {
  offset: number;
  hasher: StreamHasher;
}

export interface HasherCacheOptions {
  /** Worker threads that do the hashing; 0 hashes on the main thread. */
  threads: number;
  /** Most sessions kept; the oldest is dropped first. */
  limit?: number;
}

export class HasherCache {
  private readonly entries = new Map<string, Entry>();
  private readonly limit: number;
  private readonly pool: HashPool | null;

  constructor(options: HasherCacheOptions) {
    this.limit = options.limit ?? 4096;
    this.pool = options.threads > 0 ? hashPool(options.threads) : null;
  }

  /** A new hasher: on the worker threads when there are any. */
  create(algorithm: DigestAlgorithm): StreamHasher {
    return this.pool ? this.pool.hasher(algorithm) : new DualHasher(algorithm);
  }

  /** A hasher that has consumed the given bytes. */
  async rebuild(algorithm: DigestAlgorithm, staged: Readable | null): Promise<StreamHasher> {
    const hasher = this.create(algorithm);
    try {
      if (staged) for await (const chunk of staged) await hasher.write(chunk as Buffer);
      return hasher;
    } catch (err) {
      hasher.dispose();
      throw err;
    }
  }

  /** Removes and returns the session's hasher if it has seen exactly `offset` bytes. */
  take(sessionId: string, offset: number, algorithm: DigestAlgorithm): StreamHasher | null {
    const e = this.entries.get(sessionId);
    this.entries.delete(sessionId);
    if (!e) return null;
    if (e.offset === offset && e.hasher.algorithm === algorithm) return e.hasher;
    e.hasher.dispose();
    return null;
  }

  put(sessionId: string, offset: number, hasher: StreamHasher): void {
    hasher.flush();
    this.drop(sessionId);
    if (this.entries.size >= this.limit) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.drop(oldest);
    }
    this.entries.set(sessionId, { offset, hasher });
  }

  drop(sessionId: string): void {
    this.entries.get(sessionId)?.hasher.dispose();
    this.entries.delete(sessionId);
  }
}
