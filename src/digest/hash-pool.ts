// Hashing on worker threads. Measured on this project's machine, a push spent
// 1.6 s of main-thread time per GiB in SHA-256 and BLAKE3, most of the thread's
// busy time. With the hashing on a worker the main thread only receives and
// writes bytes, and the two run on separate cores.
//
// Bytes reach a worker through a slab of shared slots. A hasher copies what it is
// given into its slot at once, so no chunk outlives the call, and posts the slot's
// number when it is full; the worker frees the slot once it has hashed it.
// A hasher idle with a partly filled slot hands it on within 100 ms, so a stalled
// upload does not keep one.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { digestFromBuffer, type DigestAlgorithm } from './digest.ts';
import type { HashResult, StreamHasher } from './hasher.ts';

export type ToWorker =
  | { t: 'open'; id: number; algorithm: DigestAlgorithm }
  | { t: 'slot'; id: number; slot: number; len: number }
  | { t: 'finish'; id: number }
  | { t: 'close'; id: number };

type FromWorker = { t: 'free'; slot: number } | { t: 'result'; id: number; api?: Uint8Array; b3?: Uint8Array; error?: string };

interface Digests {
  api: Buffer;
  b3: Buffer;
}

const SLOT = 1 << 20;
/** A hasher that has not been written for one to two of these hands its partly filled slot on. */
const IDLE_SWEEP_MS = 50;

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
    this.worker = new Worker(new URL('./hash-worker.js', import.meta.url), { workerData: { slab, slotSize: SLOT } });
    this.worker.unref();
    this.worker.on('message', (m: FromWorker) => this.answer(m));
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`hash worker exited with code ${code}`)));
  }

  post(m: ToWorker): void {
    if (!this.dead) this.worker.postMessage(m);
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
  /** Hashers holding a partly filled slot; one idle for a whole sweep hands it on. */
  private readonly filling = new Set<OffloadedHasher>();
  private sweeper: NodeJS.Timeout | null = null;

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

  /** Watches a hasher that holds a partly filled slot, so a stalled upload does not keep it. */
  watch(h: OffloadedHasher): void {
    this.filling.add(h);
    this.sweeper ??= setInterval(() => this.sweep(), IDLE_SWEEP_MS).unref();
  }

  private sweep(): void {
    for (const h of this.filling) {
      if (h.touched) {
        h.touched = false;
        continue;
      }
      h.flush();
      this.filling.delete(h);
    }
    if (this.filling.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
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

/** What a hasher's worker-side state needs to be cleaned up without the hasher. */
interface Remains {
  pool: HashPool;
  lane: Lane;
  id: number;
  /** The slot the hasher is filling, if any. */
  slot: number | null;
}

// A hasher dropped without finish() or dispose() (a request that failed half-way)
// gives its slot back and has its worker-side state closed when it is collected.
const reaper = new FinalizationRegistry<Remains>((r) => {
  if (r.slot !== null) r.pool.release(r.slot);
  r.lane.post({ t: 'close', id: r.id });
});

class OffloadedHasher implements StreamHasher {
  readonly algorithm: DigestAlgorithm;
  private readonly remains: Remains;
  private view: Buffer | null = null;
  private filled = 0;
  private bytes = 0;
  private ended = false;
  /** Written since the pool last looked for idle hashers. */
  touched = false;

  constructor(pool: HashPool, lane: Lane, id: number, algorithm: DigestAlgorithm) {
    this.algorithm = algorithm;
    this.remains = { pool, lane, id, slot: null };
    lane.post({ t: 'open', id, algorithm });
    reaper.register(this, this.remains, this);
  }

  get size(): number {
    return this.bytes;
  }

  /** Copies the chunk into slots right away, so no chunk outlives the call. */
  write(chunk: Buffer): void | Promise<void> {
    if (this.ended) throw new Error('the hasher has already finished');
    const r = this.remains;
    for (let off = 0; off < chunk.length; ) {
      if (r.slot === null) {
        const slot = r.pool.tryAcquire();
        if (slot === undefined) {
          const rest = chunk.subarray(off);
          return r.pool.acquire().then((s) => {
            if (this.ended) return r.pool.release(s); // disposed meanwhile
            this.use(s);
            return this.write(rest);
          });
        }
        this.use(slot);
      }
      const n = chunk.copy(this.view as Buffer, this.filled, off);
      off += n;
      this.filled += n;
      this.bytes += n;
      if (this.filled === SLOT) this.send();
    }
    this.touched = true;
    if (r.slot !== null) r.pool.watch(this);
  }

  private use(slot: number): void {
    this.remains.slot = slot;
    this.view = this.remains.pool.slot(slot);
    this.filled = 0;
  }

  private send(): void {
    const r = this.remains;
    if (r.slot === null) return;
    if (this.filled > 0) r.lane.postSlot(r.id, r.slot, this.filled);
    else r.pool.release(r.slot);
    r.slot = null;
    this.view = null;
    this.filled = 0;
  }

  flush(): void {
    this.send();
  }

  async finish(): Promise<HashResult> {
    if (this.ended) throw new Error('the hasher has already finished');
    this.send();
    this.ended = true;
    reaper.unregister(this);
    const { api, b3 } = await this.remains.lane.finish(this.remains.id);
    return { digest: digestFromBuffer(this.algorithm, api), blake3: b3, size: this.bytes };
  }

  dispose(): void {
    if (this.ended) return;
    this.ended = true;
    reaper.unregister(this);
    const r = this.remains;
    if (r.slot !== null) r.pool.release(r.slot);
    r.slot = null;
    this.view = null;
    r.lane.post({ t: 'close', id: r.id });
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
