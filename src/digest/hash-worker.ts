// A hashing thread (started by hash-pool.ts). It holds the state of the hashers
// the main thread opened on it and feeds them the bytes it is sent, in order:
// either a slot of the shared slab (answered with `free` once hashed) or a copy.
import { createHash, type Hash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { createBlake3, type IncrementalHash } from './blake3.ts';
import type { ToWorker } from './hash-pool.ts';

const port = parentPort;
if (!port) throw new Error('hash-worker.ts runs only as a worker thread');
const { slab, slotSize } = workerData as { slab: SharedArrayBuffer; slotSize: number };
const states = new Map<number, { api: Hash; b3: IncrementalHash }>();

function feed(id: number, bytes: Buffer): void {
  const s = states.get(id);
  if (!s) return; // closed meanwhile: nobody waits for this one
  s.api.update(bytes);
  s.b3.update(bytes);
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'open':
      states.set(m.id, { api: createHash(m.algorithm), b3: createBlake3() });
      break;
    case 'slot':
      try {
        feed(m.id, Buffer.from(slab, m.slot * slotSize, m.len));
      } finally {
        port.postMessage({ t: 'free', slot: m.slot });
      }
      break;
    case 'bytes':
      feed(m.id, Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength));
      break;
    case 'finish': {
      const s = states.get(m.id);
      states.delete(m.id);
      if (s) port.postMessage({ t: 'result', id: m.id, api: s.api.digest(), b3: s.b3.digest() });
      else port.postMessage({ t: 'result', id: m.id, error: 'unknown hasher' });
      break;
    }
    case 'close':
      states.delete(m.id);
      break;
  }
});
