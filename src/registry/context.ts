import type { DatabasePool } from 'slonik';
import type { BlobStore } from '../storage/blob-store.ts';
import type { HasherCache } from './push/hasher-cache.ts';
import type { KeptLeases } from './push/kept-leases.ts';
import type { ManifestCache } from './content/manifest-cache.ts';
import type { PullRecorder } from './content/pulls.ts';
import type { ManifestCommits } from './content/manifest-commit.ts';
import type { ProxyOptions } from './proxy/options.ts';
import type { Proxy } from './proxy/proxy.ts';

export interface RegistryOptions {
  deleteEnabled: boolean;
  autoMount: boolean;
  maxManifestBytes: number;
  pageSizeMax: number;
  /** Accept manifests naming content the repository lacks (docs/architecture.md, "Sparse manifests"). */
  sparseManifests?: boolean;
  /** How long an upload session's lease lasts unrenewed (default 120 s; tests shorten it). */
  uploadLeaseSeconds?: number;
  /** Worker threads hashing uploaded bytes; 0: on the main thread (default: defaultHashThreads()). */
  hashThreads?: number;
  /** The pull-through cache's upstreams (docs/proxy.md); absent: every repository is local. */
  proxy?: ProxyOptions;
}

/** What every domain operation needs: the database, the bytes, the options. */
export interface RegistryContext {
  pool: DatabasePool;
  store: BlobStore;
  hashers: HasherCache;
  leases: KeptLeases;
  manifests: ManifestCache;
  /** Manifest and tag pushes waiting to commit, batched per repository (content/manifest-commit.ts). */
  commits: ManifestCommits;
  options: RegistryOptions;
  /** The pull-through cache, when options.proxy names upstreams. */
  proxy?: Proxy | null;
  /** Where manifest pulls are counted for eviction by last pull; absent: not counted. */
  pulls?: PullRecorder | null;
}
