// In-process cache of manifest lookups (repository + tag or digest → bytes).
//
// Correctness across replicas: every transaction that can make an entry stale
// (tag moved or deleted, manifest deleted) sends NOTIFY with the repository
// name; PostgreSQL delivers it to every replica at commit. The committing
// process also invalidates locally before it answers, so its own client reads
// its writes. A per-repository generation guards the race between a lookup
// that read the database before a commit and the invalidation of that commit:
// the lookup may only store its result if the generation did not move. While
// the notification connection is down the cache is off, and entries also
// expire after a short TTL as a last line of defence.
export interface CachedManifest {
  id: number;
  digest: string;
  mediaType: string;
  content: Buffer;
}

interface Entry {
  value: CachedManifest;
  expires: number;
}

export class ManifestCache {
  private readonly entries = new Map<string, Entry>();
  private readonly generations = new Map<string, number>();
  private bytes = 0;
  private enabled = false;
  private readonly maxBytes: number;
  private readonly ttlMs: number;

  constructor(opts: { maxBytes?: number; ttlMs?: number } = {}) {
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.ttlMs = opts.ttlMs ?? 10_000;
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  setEnabled(on: boolean): void {
    this.enabled = on;
    if (!on) this.clear();
  }

  /** The token a lookup takes before reading the database. */
  generation(repo: string): number {
    return this.generations.get(repo) ?? 0;
  }

  get(repo: string, ref: string): CachedManifest | null {
    if (!this.enabled) return null;
    const key = `${repo}\n${ref}`;
    const e = this.entries.get(key);
    if (!e) return null;
    if (e.expires < Date.now()) {
      this.remove(key, e);
      return null;
    }
    // refresh recency
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  set(repo: string, ref: string, value: CachedManifest, generation: number): void {
    if (!this.enabled || generation !== this.generation(repo) || value.content.length > this.maxBytes / 16) return;
    const key = `${repo}\n${ref}`;
    const old = this.entries.get(key);
    if (old) this.remove(key, old);
    this.entries.set(key, { value, expires: Date.now() + this.ttlMs });
    this.bytes += value.content.length;
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(k, e);
    }
  }

  invalidate(repo: string): void {
    this.generations.set(repo, this.generation(repo) + 1);
    const prefix = `${repo}\n`;
    for (const [k, e] of this.entries) if (k.startsWith(prefix)) this.remove(k, e);
  }

  clear(): void {
    for (const repo of this.generations.keys()) this.generations.set(repo, this.generation(repo) + 1);
    this.entries.clear();
    this.bytes = 0;
  }

  private remove(key: string, e: Entry): void {
    this.entries.delete(key);
    this.bytes -= e.value.content.length;
  }
}
