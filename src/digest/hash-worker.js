// @ts-check
// A hashing thread (started by hash-pool.ts). It holds the state of the hashers
// the main thread opened on it and feeds them the slots of the shared slab it is
// sent, in order, answering `free` once each is hashed.
//
// Plain JavaScript, checked by tsc through the JSDoc types: a worker that loads a
// .ts file starts its own TypeScript type stripper, measured at 15-19 MB more
// resident memory per thread.
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { Blake3Hasher } from '@napi-rs/blake-hash';

/** @typedef {import('./hash-pool.ts').ToWorker} ToWorker */

const port = parentPort;
if (!port) throw new Error('hash-worker.js runs only as a worker thread');
/** @type {{ slab: SharedArrayBuffer; slotSize: number }} */
const { slab, slotSize } = workerData;
/** @type {Map<number, { api: import('node:crypto').Hash; b3: Blake3Hasher }>} */
const states = new Map();

port.on('message', (/** @type {ToWorker} */ m) => {
  switch (m.t) {
    case 'open':
      // BLAKE3 as src/digest/blake3.ts has it (the same package, the same 32-byte digest)
      states.set(m.id, { api: createHash(m.algorithm), b3: new Blake3Hasher() });
      break;
    case 'slot': {
      const s = states.get(m.id); // absent when closed meanwhile: nobody waits for it
      try {
        if (s) {
          const bytes = Buffer.from(slab, m.slot * slotSize, m.len);
          s.api.update(bytes);
          s.b3.update(bytes);
        }
      } finally {
        port.postMessage({ t: 'free', slot: m.slot });
      }
      break;
    }
    case 'finish': {
      const s = states.get(m.id);
      states.delete(m.id);
      if (s) port.postMessage({ t: 'result', id: m.id, api: s.api.digest(), b3: s.b3.digestBuffer() });
      else port.postMessage({ t: 'result', id: m.id, error: 'unknown hasher' });
      break;
    }
    case 'close':
      states.delete(m.id);
      break;
  }
});
