// The BLAKE3 implementation, chosen by measurement (bench/hash.ts): the native
// @napi-rs/blake-hash runs ~2.7 GB/s here, the WASM ones (hash-wasm, blake3@2's
// fallback) ~0.35 GB/s. Everything else imports BLAKE3 from this file only, but for
// the hashing thread (hash-worker.js), which uses the same package directly.
import { Blake3Hasher } from '@napi-rs/blake-hash';

export interface IncrementalHash {
  update(chunk: Buffer): void;
  digest(): Buffer;
}

export function createBlake3(): IncrementalHash {
  const h = new Blake3Hasher();
  return {
    update: (chunk) => {
      h.update(chunk);
    },
    digest: () => h.digestBuffer(),
  };
}

export function blake3Hex(data: Buffer): string {
  return new Blake3Hasher().update(data).digest('hex');
}
