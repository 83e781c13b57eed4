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

export class DualHasher {
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

  /** Ends the hasher; it cannot be updated afterwards. */
  finish(): HashResult {
    return { digest: digestFromBuffer(this.algorithm, this.api.digest()), blake3: this.b3.digest(), size: this.bytes };
  }
}

/** A pass-through stream that feeds everything it sees to a hasher. */
export function hashingStream(hasher: DualHasher): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      hasher.update(chunk);
      done(null, chunk);
    },
  });
}
