// In-process hash state of open upload sessions. Node cannot serialise a
// SHA-256 state, so the fast path keeps the live hasher here; a session that
// arrives at a process without it (a restart, another replica) has its state
// rebuilt by re-reading the bytes staged so far.
import type { Readable } from 'node:stream';
import type { DigestAlgorithm } from '../digest/digest.ts';
import { DualHasher } from '../digest/hasher.ts';

interface Entry {
  offset: number;
  hasher: DualHasher;
}

export class HasherCache {
  private readonly entries = new Map<string, Entry>();
  private readonly limit: number;

  constructor(limit = 4096) {
    this.limit = limit;
  }

  /** Removes and returns the session's hasher if it has seen exactly `offset` bytes. */
  take(sessionId: string, offset: number, algorithm: DigestAlgorithm): DualHasher | null {
    const e = this.entries.get(sessionId);
    this.entries.delete(sessionId);
    if (!e || e.offset !== offset || e.hasher.algorithm !== algorithm) return null;
    return e.hasher;
  }

  put(sessionId: string, offset: number, hasher: DualHasher): void {
    if (this.entries.size >= this.limit) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(sessionId, { offset, hasher });
  }

  drop(sessionId: string): void {
    this.entries.delete(sessionId);
  }
}

/** A hasher that has consumed the given bytes. */
export async function hasherFrom(algorithm: DigestAlgorithm, staged: Readable | null): Promise<DualHasher> {
  const hasher = new DualHasher(algorithm);
  if (staged) for await (const chunk of staged) hasher.update(chunk as Buffer);
  return hasher;
}
