// The one-pass hasher: every byte of a blob is fed once to both the API digest
// (SHA-256, or SHA-512 when asked) and the BLAKE3 storage key.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { createBlake3, type IncrementalHash } from './blake3.ts';
import { digestFromBuffer, type Digest, type DigestAlgorithm } from './digest.ts';

export interface HashResult {
  /** The API digest in the algorithm the hasher was created for. */
  digest: Digest;
  blake3: Buffer;
  size: number;
}

/**
 * A hasher fed by a stream: DualHasher on the calling thread, or one whose work is
 * done on a worker thread (hash-pool.ts).
 */
export interface StreamHasher {
  readonly algorithm: DigestAlgorithm;
  /** Bytes written so far. */
  readonly size: number;
  /**
   * Feeds a chunk. A returned promise asks the caller to wait for it before
   * writing more, and to leave the chunk unchanged until then.
   */
  write(chunk: Buffer): void | Promise<void>;
  /** Hands on what the hasher holds back (a partly filled slot), so an idle one holds nothing. */
  flush(): void;
  /** Ends the hasher; it cannot be written afterwards. */
  finish(): HashResult | Promise<HashResult>;
  /** Ends the hasher without a result. */
  dispose(): void;
}

export class DualHasher implements StreamHasher {
  readonly algorithm: DigestAlgorithm;
  private readonly api: Hash;
  private readonly b3: IncrementalHash;
  private bytes = 0;

  constructor(algorithm: DigestAlgorithm = 'sha256') {
    this.algorithm = algorithm;
    this.api = createHash(algorithm);
    this.b3 = createBlake3();
  }

  get size(): number {
    return this.bytes;
  }

  update(chunk: Buffer): void {
    this.api.update(chunk);
    this.b3.update(chunk);
    this.bytes += chunk.length;
  }

  write(chunk: Buffer): void {
    this.update(chunk);
  }

  flush(): void {}

  dispose(): void {}

  /** Ends the hasher; it cannot be updated afterwards. */
  finish(): HashResult {
    return { digest: digestFromBuffer(this.algorithm, this.api.digest()), blake3: this.b3.digest(), size: this.bytes };
  }
}

/** A pass-through stream that feeds everything it sees to a hasher. */
export function hashingStream(hasher: StreamHasher): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      let wait: void | Promise<void>;
      try {
        wait = hasher.write(chunk);
      } catch (err) {
        return done(err as Error);
      }
      if (wait) wait.then(() => done(null, chunk), done);
      else done(null, chunk);
    },
  });
}
