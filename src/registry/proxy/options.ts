// What the pull-through cache is configured with (docs/proxy.md), and which
// upstream a repository name belongs to.
import { globMatches } from '../../shared/glob.ts';
import type { RepoName } from '../../shared/names.ts';

export interface UpstreamOptions {
  /** The first path components of the names it serves, e.g. `hub` for /v2/hub/<name>/…; MIRROR_LABEL for the mirror. */
  prefix: string;
  /** The upstream registry's base URL (http or https), without /v2/. */
  url: string;
  username?: string;
  /** Already read from passwordFile by the configuration. */
  password?: string;
  /** This upstream's own tag TTL and timeout; absent: the ProxyOptions' ones. */
  tagTtlSeconds?: number;
  timeoutMs?: number;
  /** Globs on the upstream's name; a name matching none is never asked upstream. Absent: every name. */
  names?: readonly string[];
  /** Pushes and deletes are allowed; a tag the upstream does not hold is then local (docs/proxy.md). */
  pushes?: boolean;
}

export type MirrorOptions = Omit<UpstreamOptions, 'prefix'>;

export interface ProxyOptions {
  upstreams: readonly UpstreamOptions[];
  /** The upstream of every name under no prefix (clients' registry-mirrors); absent: such names are local. */
  mirror?: MirrorOptions;
  /** Seconds a cached tag is served before it is revalidated upstream with a HEAD. */
  tagTtlSeconds: number;
  /** Milliseconds an upstream has to answer, and that its body may stall. */
  timeoutMs: number;
}

/** How metrics, logs and errors name the mirror; no prefix can be spelt so, so neither can collide. */
export const MIRROR_LABEL = '(mirror)';

export interface Routed {
  upstream: UpstreamOptions;
  /** The name on the upstream: the repository name without the prefix. */
  remote: string;
}

export interface Claim extends Routed {
  /** False for a name outside the upstream's allow-list: never asked upstream, but still under its write rule. */
  fetches: boolean;
}

/**
 * The upstream a name belongs to. A name under a prefix belongs to that upstream
 * whatever its allow-list says (the prefix is the upstream's); any other name to
 * the mirror, if there is one and its allow-list admits the name: outside it, a
 * name is an ordinary local repository.
 */
export function claimName(options: ProxyOptions | undefined, name: RepoName): Claim | null {
  if (!options) return null;
  for (const upstream of options.upstreams) {
    if (!name.startsWith(`${upstream.prefix}/`)) continue;
    const remote = remoteName(upstream.url, name.slice(upstream.prefix.length + 1));
    return { upstream, remote, fetches: admits(upstream, remote) };
  }
  if (!options.mirror) return null;
  const remote = remoteName(options.mirror.url, name);
  return admits(options.mirror, remote) ? { upstream: { ...options.mirror, prefix: MIRROR_LABEL }, remote, fetches: true } : null;
}

/** The upstream serving `name` on a miss, or null when none does (an ordinary, local repository, or a name outside the allow-list). */
export function routeName(options: ProxyOptions | undefined, name: RepoName): Routed | null {
  const claim = claimName(options, name);
  return claim?.fetches ? { upstream: claim.upstream, remote: claim.remote } : null;
}

function admits(upstream: MirrorOptions, remote: string): boolean {
  return !upstream.names || upstream.names.some((glob) => globMatches(glob, remote));
}

/** Docker Hub's own hosts: their official images live under library/. */
const DOCKER_HUB = new Set(['registry-1.docker.io', 'docker.io', 'index.docker.io', 'registry.hub.docker.com']);

/** The name on the upstream: on Docker Hub a one-component name is an official image, `library/<name>`, as docker pull has it. */
export function remoteName(url: string, name: string): string {
  return !name.includes('/') && DOCKER_HUB.has(new URL(url).hostname) ? `library/${name}` : name;
}
