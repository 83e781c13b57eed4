// At most one batch in flight per key. An item submitted while its key is idle starts
// a batch of its own at once (no waiting for company); items submitted while a batch
// runs queue, and the next batch takes all of them. So batches grow exactly as far as
// the work behind one commit piles up, and a quiet key adds no latency.

export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

interface Waiting<T, R> {
  item: T;
  resolve(value: R): void;
  reject(error: unknown): void;
}

/** The largest batch: one transaction stays bounded however many clients wait. */
const MAX_BATCH = 128;

export class KeyedBatcher<T, R> {
  private readonly queues = new Map<string, Waiting<T, R>[]>();
  private readonly run: (key: string, items: T[]) => Promise<Settled<R>[]>;

  /** `run` answers each item of a batch, in order; it is never called twice at once for a key. */
  constructor(run: (key: string, items: T[]) => Promise<Settled<R>[]>) {
    this.run = run;
  }

  submit(key: string, item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const queue = this.queues.get(key);
      if (queue) {
        queue.push({ item, resolve, reject });
        return;
      }
      const fresh: Waiting<T, R>[] = [{ item, resolve, reject }];
      this.queues.set(key, fresh);
      void this.drain(key, fresh);
    });
  }

  private async drain(key: string, queue: Waiting<T, R>[]): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, MAX_BATCH);
      let results: Settled<R>[];
      try {
        results = await this.run(key, batch.map((w) => w.item));
      } catch (error) {
        results = batch.map(() => ({ ok: false, error }));
      }
      batch.forEach((w, i) => {
        const r = results[i] ?? { ok: false, error: new Error('batch gave no answer for an item') };
        if (r.ok) w.resolve(r.value);
        else w.reject(r.error);
      });
    }
    this.queues.delete(key);
  }
}
