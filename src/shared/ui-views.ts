// The shapes of what the web UI's JSON API answers (src/http/ui-api.ts, built by
// src/registry/ui/read-model.ts) and the browser modules read (src/ui/): one
// definition for both sides. Types only: the browser imports them with
// `import type`, which Node's type stripping removes from what it serves.
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface TagView {
  name: string;
  digest: string;
  mediaType: string;
  size: number;
  pushedAt: string;
  platforms: Platform[];
}

export interface DescriptorView {
  digest: string;
  mediaType: string;
  size: number;
  platform?: Platform;
  artifactType?: string;
  annotations?: Record<string, unknown>;
}

export interface ConfigView {
  os?: string;
  architecture?: string;
  variant?: string;
  created?: string;
  env: string[];
  entrypoint: string[];
  cmd: string[];
  workingDir?: string;
  user?: string;
  labels: Record<string, unknown>;
  history: Array<{ created?: string; createdBy?: string; comment?: string; emptyLayer: boolean }>;
}

export interface ManifestView {
  repository: string;
  digest: string;
  mediaType: string;
  artifactType?: string;
  size: number;
  createdAt: string;
  tags: string[];
  subject?: DescriptorView;
  config: DescriptorView | null;
  /** The config blob taken apart, when it is an image config we could read. */
  image: ConfigView | null;
  layers: DescriptorView[];
  children: DescriptorView[];
  annotations: Record<string, unknown>;
  /** Referrers by artifactType (the manifest's media type when it has none). */
  referrers: Record<string, DescriptorView[]>;
  raw: string;
}
