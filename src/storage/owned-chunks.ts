// Request bodies arrive as one fresh buffer per socket read (up to 64 KiB each,
// 16 384 per GiB). Their memory lives outside V8's heap and is returned only when a
// garbage collection finds them dead, so during a long push 20-35 MB of spent
// buffers waited for the collector. A stream marked here carries chunks that
// nothing else holds: whoever consumes it last may free each chunk's memory as
// soon as it has copied it.
import type { Readable } from 'node:stream';

const owned = new WeakSet<object>();

/** Marks `stream` as carrying chunks no other code holds (a request body, or a pass-through of one). */
export function ownChunks<T extends Readable>(stream: T): T {
  owned.add(stream);
  return stream;
}

export function chunksOwned(stream: object): boolean {
  return owned.has(stream);
}

/**
 * Frees a chunk's memory at once (it reads as empty afterwards). Only a chunk
 * that spans its whole ArrayBuffer is freed: a slice of a shared pool is left as it is.
 */
export function freeChunk(chunk: Buffer): void {
  const ab = chunk.buffer;
  if (ab instanceof ArrayBuffer && !ab.detached && chunk.byteOffset === 0 && chunk.byteLength === ab.byteLength) ab.transfer(0);
}
