// Wakes the pulls waiting for an upstream fetch the moment it ends: fetches of
// this process call wake directly, those of other replicas through PostgreSQL's
// NOTIFY (src/db/notify.ts). A missed signal costs only a poll interval: waiters
// never rely on it alone.
export class FlightSignals {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Resolves when `key` ('<kind> <key>') is woken, or after `ms`. */
  wait(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiters.get(key) ?? new Set();
      this.waiters.set(key, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  wake(key: string): void {
    for (const done of [...(this.waiters.get(key) ?? [])]) done();
  }
}
