// Hashing on worker threads. Measured on this project's machine, a push spent
// 1.6 s of main-thread time per GiB in SHA-256 and BLAKE3, most of the thread's
// busy time. With the hashing on a worker the main thread only receives and
// writes bytes, and the two run on separate cores.
//
// Bytes reach a worker through a slab of shared slots. A hasher keeps the chunks
// it is given (by reference: callers never change a chunk afterwards) until it
// holds a slot's worth, copies them into a free slot and posts the slot's number;
// the worker frees the slot once it has hashed it. A slot is held only while a
// worker hashes it, so a stalled upload never keeps one.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { digestFromBuffer, type DigestAlgorithm } from './digest.ts';
import type { HashResult, StreamHasher } from './hasher.ts';

export type ToWorker =
  | { t: 'open'; id: number; algorithm: DigestAlgorithm }
  | { t: 'slot'; id: number; slot: number; len: number }
  | { t: 'bytes'; id: number; bytes: Uint8Array }
  | { t: 'finish'; id: number }
  | { t: 'close'; id: number };

type FromWorker = { t: 'free'; slot: number } | { t: 'result'; id: number; api?: Uint8Array; b3?: Uint8Array; error?: string };

interface Digests {
  api: Buffer;
  b3: Buffer;
}

const SLOT = 1 << 20;

const asBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** One worker thread and the answers the main thread waits for from it. */
class Lane {
  private readonly worker: Worker;
  private readonly pool: HashPool;
  private readonly results = new Map<number, { resolve: (d: Digests) => void; reject: (e: Error) => void }>();
  private readonly slots = new Set<number>();
  /** Messages that will be answered; the worker keeps the process alive only while there are some. */
  private awaited = 0;
  dead: Error | null = null;

  constructor(pool: HashPool, slab: SharedArrayBuffer) {
    this.pool = pool;
    this.worker = new Worker(new URL('./hash-worker.ts', import.meta.url), { workerData: { slab, slotSize: SLOT } });
    this.worker.unref();
    this.worker.on('message', (m: FromWorker) => this.answer(m));
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`hash worker exited with code ${code}`)));
  }

  post(m: ToWorker): void {
    if (!this.dead) this.worker.postMessage(m, m.t === 'bytes' ? [m.bytes.buffer as ArrayBuffer] : []);
  }

  postSlot(id: number, slot: number, len: number): void {
    if (this.dead) return this.pool.release(slot);
    this.slots.add(slot);
    this.expect();
    this.post({ t: 'slot', id, slot, len });
  }

  finish(id: number): Promise<Digests> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.results.set(id, { resolve, reject });
      this.expect();
      this.post({ t: 'finish', id });
    });
  }

  private expect(): void {
    if (this.awaited++ === 0) this.worker.ref();
  }

  private answered(): void {
    if (--this.awaited === 0) this.worker.unref();
  }

  private answer(m: FromWorker): void {
    this.answered();
    if (m.t === 'free') {
      if (this.slots.delete(m.slot)) this.pool.release(m.slot);
      return;
    }
    const waiter = this.results.get(m.id);
    this.results.delete(m.id);
    if (m.api && m.b3) waiter?.resolve({ api: asBuffer(m.api), b3: asBuffer(m.b3) });
    else waiter?.reject(new Error(`hash worker: ${m.error ?? 'no result'}`));
  }

  async stop(): Promise<void> {
    this.fail(new Error('hash worker stopped'));
    await this.worker.terminate();
  }

  private fail(err: Error): void {
    if (this.dead) return;
    this.dead = err;
    for (const w of this.results.values()) w.reject(err);
    this.results.clear();
    for (const slot of this.slots) this.pool.release(slot);
    this.slots.clear();
  }
}

/** The worker threads of this process and the slab of slots they share. */
export class HashPool {
  readonly threads: number;
  private readonly lanes: Lane[] = [];
  private readonly slab: SharedArrayBuffer;
  private readonly free: number[] = [];
  private readonly waiting: Array<(slot: number) => void> = [];
  private turn = 0;
  private ids = 0;

  constructor(threads: number, slots = 16) {
    this.threads = threads;
    this.slab = new SharedArrayBuffer(SLOT * slots);
    // Last in, first out: one upload at a time touches only the first few slots.
    for (let s = slots - 1; s >= 0; s--) this.free.push(s);
  }

  hasher(algorithm: DigestAlgorithm): StreamHasher {
    const i = this.turn++ % this.threads;
    let lane = this.lanes[i];
    if (!lane || lane.dead) lane = this.lanes[i] = new Lane(this, this.slab);
    return new OffloadedHasher(this, lane, ++this.ids, algorithm);
  }

  /** Ends the worker threads; hashers still open on them fail. The next hasher starts a new one. */
  async stop(): Promise<void> {
    const lanes = this.lanes.splice(0);
    await Promise.all(lanes.map((l) => l.stop()));
  }

  slot(n: number): Buffer {
    return Buffer.from(this.slab, n * SLOT, SLOT);
  }

  tryAcquire(): number | undefined {
    return this.free.pop();
  }

  acquire(): Promise<number> {
    const s = this.free.pop();
    return s !== undefined ? Promise.resolve(s) : new Promise((resolve) => this.waiting.push(resolve));
  }

  release(slot: number): void {
    const next = this.waiting.shift();
    if (next) next(slot);
    else this.free.push(slot);
  }
}

// A hasher dropped without finish() or dispose() (a request that failed half-way)
// has its worker-side state closed when it is collected.
const reaper = new FinalizationRegistry<{ lane: Lane; id: number }>(({ lane, id }) => lane.post({ t: 'close', id }));

class OffloadedHasher implements StreamHasher {
  readonly algorithm: DigestAlgorithm;
  private readonly pool: HashPool;
  private readonly lane: Lane;
  private readonly id: number;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private bytes = 0;
  private ended = false;

  constructor(pool: HashPool, lane: Lane, id: number, algorithm: DigestAlgorithm) {
    this.pool = pool;
    this.lane = lane;
    this.id = id;
    this.algorithm = algorithm;
    lane.post({ t: 'open', id, algorithm });
    reaper.register(this, { lane, id }, this);
  }

  get size(): number {
    return this.bytes;
  }

  write(chunk: Buffer): void | Promise<void> {
    if (this.ended) throw new Error('the hasher has already finished');
    if (chunk.length === 0) return;
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    this.bytes += chunk.length;
    return this.sendFullSlots();
  }

  private sendFullSlots(): void | Promise<void> {
    while (this.heldBytes >= SLOT) {
      const slot = this.pool.tryAcquire();
      if (slot === undefined) {
        return this.pool.acquire().then((s) => {
          this.send(s);
          return this.sendFullSlots();
        });
      }
      this.send(slot);
    }
  }

  private send(slot: number): void {
    const view = this.pool.slot(slot);
    let n = 0;
    while (n < SLOT) {
      const c = this.held[0] as Buffer;
      const take = Math.min(c.length, SLOT - n);
      view.set(take === c.length ? c : c.subarray(0, take), n);
      n += take;
      if (take === c.length) this.held.shift();
      else this.held[0] = c.subarray(take);
    }
    this.heldBytes -= SLOT;
    this.lane.postSlot(this.id, slot, SLOT);
  }

  flush(): void {
    if (this.heldBytes === 0) return;
    const bytes = new Uint8Array(this.heldBytes);
    let n = 0;
    for (const c of this.held) {
      bytes.set(c, n);
      n += c.length;
    }
    this.held = [];
    this.heldBytes = 0;
    this.lane.post({ t: 'bytes', id: this.id, bytes });
  }

  async finish(): Promise<HashResult> {
    if (this.ended) throw new Error('the hasher has already finished');
    this.flush();
    this.ended = true;
    reaper.unregister(this);
    const { api, b3 } = await this.lane.finish(this.id);
    return { digest: digestFromBuffer(this.algorithm, api), blake3: b3, size: this.bytes };
  }

  dispose(): void {
    if (this.ended) return;
    this.ended = true;
    this.held = [];
    reaper.unregister(this);
    this.lane.post({ t: 'close', id: this.id });
  }
}

/** Hashing threads to start by default: the cores left after the main thread, at most 4, at least 1. */
export function defaultHashThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

const pools = new Map<number, HashPool>();

/** The process's pool with `threads` workers, started on first use. */
export function hashPool(threads: number): HashPool {
  let pool = pools.get(threads);
  if (!pool) pools.set(threads, (pool = new HashPool(threads)));
  return pool;
}
