// What the pull-through cache is configured with (docs/proxy.md), and which
// upstream a repository name belongs to.
import type { RepoName } from '../../shared/names.ts';

export interface UpstreamOptions {
  /** The first path components of the names it serves, e.g. `hub` for /v2/hub/<name>/…. */
  prefix: string;
  /** The upstream registry's base URL (http or https), without /v2/. */
  url: string;
  username?: string;
  /** Already read from passwordFile by the configuration. */
  password?: string;
}

export interface ProxyOptions {
  upstreams: readonly UpstreamOptions[];
  /** Seconds a cached tag is served before it is revalidated upstream with a HEAD. */
  tagTtlSeconds: number;
  /** Milliseconds an upstream has to answer, and that its body may stall. */
  timeoutMs: number;
}

export interface Routed {
  upstream: UpstreamOptions;
  /** The name on the upstream: the repository name without the prefix. */
  remote: string;
}

/** The upstream serving `name`, or null when no prefix matches (ordinary, local repository). */
export function routeName(options: ProxyOptions | undefined, name: RepoName): Routed | null {
  if (!options) return null;
  for (const upstream of options.upstreams) {
    if (name.startsWith(`${upstream.prefix}/`)) return { upstream, remote: remoteName(upstream.url, name.slice(upstream.prefix.length + 1)) };
  }
  return null;
}

/** Docker Hub's own hosts: their official images live under library/. */
const DOCKER_HUB = new Set(['registry-1.docker.io', 'docker.io', 'index.docker.io', 'registry.hub.docker.com']);

/** The name on the upstream: on Docker Hub a one-component name is an official image, `library/<name>`, as docker pull has it. */
export function remoteName(url: string, name: string): string {
  return !name.includes('/') && DOCKER_HUB.has(new URL(url).hostname) ? `library/${name}` : name;
}
