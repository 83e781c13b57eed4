// The pull-through cache's state in this process: one client per upstream (each
// with its token cache), and when each cached tag was last confirmed upstream, as
// far as this process knows (the database has it for all: freshness.ts).
// Cached content itself is ordinary rows and objects; nothing here is needed to
// serve it.
import type { RepoName } from '../../shared/names.ts';
import { claimName, MIRROR_LABEL, routeName, type Claim, type ProxyOptions, type Routed } from './options.ts';
import { FlightSignals } from './signals.ts';
import { UpstreamClient } from './upstream.ts';

export type ProxyLog = (msg: string, fields: Record<string, unknown>) => void;

/** What the cache reports for metrics (http/metrics.ts turns it into counters); `upstream` is the prefix. */
export interface ProxyObserver {
  /** hit: served from the cache; miss: fetched upstream; stale: cached, served because the upstream failed. */
  pulled(upstream: string, kind: 'manifest' | 'blob', result: 'hit' | 'miss' | 'stale'): void;
  failed(upstream: string, code: string): void;
  received(upstream: string, bytes: number): void;
}

const UNOBSERVED: ProxyObserver = { pulled: () => undefined, failed: () => undefined, received: () => undefined };

/** Tags remembered as confirmed; past it the oldest are forgotten (and simply revalidated again). */
const MAX_CONFIRMED = 100_000;

export class Proxy {
  readonly options: ProxyOptions;
  readonly warn: ProxyLog;
  readonly observer: ProxyObserver;
  /** Wakes pulls waiting for a fetch of another (src/registry/proxy/flight.ts). */
  readonly signals: FlightSignals;
  private readonly clients = new Map<string, UpstreamClient>();
  private readonly confirmed = new Map<string, number>();

  constructor(options: ProxyOptions, warn: ProxyLog, observer: ProxyObserver = UNOBSERVED, signals = new FlightSignals()) {
    this.options = options;
    this.signals = signals;
    this.warn = warn;
    this.observer = observer;
    for (const u of options.upstreams) this.clients.set(u.prefix, new UpstreamClient(u, u.timeoutMs ?? options.timeoutMs));
    const mirror = options.mirror;
    if (mirror) this.clients.set(MIRROR_LABEL, new UpstreamClient({ ...mirror, prefix: MIRROR_LABEL }, mirror.timeoutMs ?? options.timeoutMs));
  }

  /** The upstream and remote name of a proxied repository; null for a local one. */
  route(name: RepoName): (Routed & { client: UpstreamClient }) | null {
    const routed = routeName(this.options, name);
    if (!routed) return null;
    return { ...routed, client: this.clients.get(routed.upstream.prefix) as UpstreamClient };
  }

  /** The upstream a name belongs to, for its write rule; null for a local one. */
  claim(name: RepoName): Claim | null {
    return claimName(this.options, name);
  }

  /** True while the tag was confirmed upstream less than its upstream's tag TTL ago. */
  isFresh(name: RepoName, tag: string): boolean {
    const at = this.confirmed.get(`${name}:${tag}`);
    return at !== undefined && Date.now() - at < this.tagTtlMs(name);
  }

  /** How long a cached tag of `name` is served before it is revalidated: its upstream's TTL, else the section's. */
  tagTtlMs(name: RepoName): number {
    return (this.route(name)?.upstream.tagTtlSeconds ?? this.options.tagTtlSeconds) * 1000;
  }

  /** The upstream confirmed the tag `at` (now, or when another replica did: freshness.ts). */
  confirm(name: RepoName, tag: string, at = Date.now()): void {
    const key = `${name}:${tag}`;
    this.confirmed.delete(key); // re-inserted last: the map's order is (about) the age order
    this.confirmed.set(key, at);
    if (this.confirmed.size > MAX_CONFIRMED) this.confirmed.delete(this.confirmed.keys().next().value as string);
  }
}
