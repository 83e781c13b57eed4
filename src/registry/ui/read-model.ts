// What the web UI shows, shaped for it: repository summaries, a repository's tags
// with their platforms and the policies that govern it, a manifest taken apart
// (config, layers, children, referrers). Reads only; deletes go through
// registry/content/manifests.ts like the OCI DELETE routes.
import { parseDigest } from '../../digest/digest.ts';
import { lookupManifest } from '../../db/manifests.ts';
import { findRepository } from '../../db/repositories.ts';
import { listImmutableRules, listPolicies } from '../../db/retention.ts';
import * as q from '../../db/ui-reads.ts';
import { RegistryError } from '../../errors/codes.ts';
import type { ImmutableRule, RetentionPolicy } from '../../shared/policies.ts';
import type { RepoName } from '../../shared/names.ts';
import type { ConfigView, DescriptorView, ManifestView, Platform, TagView } from '../../shared/ui-views.ts';
import { sendBlob, statBlob } from '../content/blobs.ts';
import type { RegistryContext } from '../context.ts';
import { globMatches } from '../../shared/glob.ts';
import { policyFor } from '../retention/rules.ts';

export const TAG_LIMIT = 5000;
const REFERRER_LIMIT = 500;
/** A config larger than this is not shown (configs are a few KB; this bounds what one request buffers). */
const CONFIG_MAX_BYTES = 1024 * 1024;

export interface RepositoryView {
  name: string;
  tags: TagView[];
  truncated: boolean;
  retention: RetentionPolicy | null;
  immutable: ImmutableRule[];
}

type Json = Record<string, unknown>;

function parseJson(content: Buffer): Json | null {
  try {
    const v: unknown = JSON.parse(content.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
  } catch {
    return null;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function platformOf(v: unknown): Platform | null {
  if (v === null || typeof v !== 'object') return null;
  const p = v as Json;
  const os = str(p.os);
  const architecture = str(p.architecture);
  if (!os || !architecture) return null;
  const variant = str(p.variant);
  return variant ? { os, architecture, variant } : { os, architecture };
}

function descriptors(doc: Json | null, key: 'manifests' | 'layers'): Json[] {
  const list = doc?.[key];
  return Array.isArray(list) ? list.filter((d): d is Json => d !== null && typeof d === 'object') : [];
}

async function repositoryId(ctx: RegistryContext, name: RepoName): Promise<number> {
  const id = await findRepository(ctx.pool, name);
  if (id === null) throw new RegistryError('NAME_UNKNOWN', { name });
  return id;
}

export async function repositoryView(ctx: RegistryContext, name: RepoName): Promise<RepositoryView> {
  const id = await repositoryId(ctx, name);
  const rows = await q.tagsOf(ctx.pool, id, TAG_LIMIT + 1);
  const tags = rows.slice(0, TAG_LIMIT).map((r) => ({
    name: r.tag,
    digest: r.digest,
    mediaType: r.media_type,
    size: r.size,
    pushedAt: r.pushed_at,
    platforms: r.index_content === null ? [] : descriptors(parseJson(r.index_content), 'manifests').map((d) => platformOf(d.platform)).filter((p) => p !== null),
  }));
  const [policies, rules] = await Promise.all([listPolicies(ctx.pool), listImmutableRules(ctx.pool)]);
  return {
    name,
    tags,
    truncated: rows.length > TAG_LIMIT,
    retention: policyFor(policies, name),
    immutable: rules.filter((r) => globMatches(r.repositoryGlob, name)),
  };
}

function descriptorView(d: Json): DescriptorView {
  const out: DescriptorView = { digest: str(d.digest) ?? '', mediaType: str(d.mediaType) ?? '', size: typeof d.size === 'number' ? d.size : 0 };
  const platform = platformOf(d.platform);
  if (platform) out.platform = platform;
  if (str(d.artifactType)) out.artifactType = str(d.artifactType) as string;
  if (d.annotations && typeof d.annotations === 'object') out.annotations = d.annotations as Record<string, unknown>;
  return out;
}

/** A manifest by digest, or by the tag naming it. */
export async function manifestView(ctx: RegistryContext, name: RepoName, reference: { digest: string } | { tag: string }): Promise<ManifestView> {
  const id = await repositoryId(ctx, name);
  let digest: string;
  if ('tag' in reference) {
    const tagged = await lookupManifest(ctx.pool, name, { tag: reference.tag });
    if (!tagged) throw new RegistryError('MANIFEST_UNKNOWN', { tag: reference.tag });
    digest = tagged.digest;
  } else {
    digest = parseDigest(reference.digest).text;
  }
  const row = await q.manifestOf(ctx.pool, id, digest);
  if (!row) throw new RegistryError('MANIFEST_UNKNOWN', { digest });
  const doc = parseJson(row.content);
  const [tags, referrerRows] = await Promise.all([q.tagsOfManifest(ctx.pool, row.id), q.referrersOf(ctx.pool, id, row.digest, REFERRER_LIMIT)]);
  const referrers: Record<string, DescriptorView[]> = {};
  for (const r of referrerRows) {
    const key = r.artifact_type ?? r.media_type;
    (referrers[key] ??= []).push({ digest: r.digest, mediaType: r.media_type, size: r.size, ...(r.artifact_type ? { artifactType: r.artifact_type } : {}) });
  }
  const config = doc?.config && typeof doc.config === 'object' ? descriptorView(doc.config as Json) : null;
  const view: ManifestView = {
    repository: name,
    digest: row.digest,
    mediaType: row.media_type,
    size: row.content.length,
    createdAt: row.created_at,
    tags: [...tags],
    config,
    image: config ? await imageConfig(ctx, name, config) : null,
    layers: descriptors(doc, 'layers').map(descriptorView),
    children: descriptors(doc, 'manifests').map(descriptorView),
    annotations: doc?.annotations && typeof doc.annotations === 'object' ? (doc.annotations as Record<string, unknown>) : {},
    referrers,
    raw: row.content.toString('utf8'),
  };
  if (str(doc?.artifactType)) view.artifactType = str(doc?.artifactType) as string;
  if (doc?.subject && typeof doc.subject === 'object') view.subject = descriptorView(doc.subject as Json);
  return view;
}

const IMAGE_CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

/** The image config, read from storage; null when it is no image config, too large, unreadable or missing. */
async function imageConfig(ctx: RegistryContext, name: RepoName, d: DescriptorView): Promise<ConfigView | null> {
  if (!IMAGE_CONFIG_TYPES.has(d.mediaType) || d.size > CONFIG_MAX_BYTES) return null;
  let bytes: Buffer;
  try {
    const blob = await statBlob(ctx, name, parseDigest(d.digest));
    const chunks: Buffer[] = [];
    await sendBlob(ctx, blob, undefined, async (c) => {
      chunks.push(c);
    });
    bytes = Buffer.concat(chunks);
  } catch (err) {
    if (err instanceof RegistryError) return null; // shown as "config not available", not as a failed page
    throw err;
  }
  const doc = parseJson(bytes);
  if (!doc) return null;
  const c = (doc.config && typeof doc.config === 'object' ? doc.config : {}) as Json;
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const history = Array.isArray(doc.history) ? doc.history.filter((h): h is Json => h !== null && typeof h === 'object') : [];
  const out: ConfigView = {
    env: strings(c.Env),
    entrypoint: strings(c.Entrypoint),
    cmd: strings(c.Cmd),
    labels: c.Labels && typeof c.Labels === 'object' ? (c.Labels as Record<string, unknown>) : {},
    history: history.map((h) => ({ created: str(h.created), createdBy: str(h.created_by), comment: str(h.comment), emptyLayer: h.empty_layer === true })),
  };
  for (const [k, v] of [['os', doc.os], ['architecture', doc.architecture], ['variant', doc.variant], ['created', doc.created], ['workingDir', c.WorkingDir], ['user', c.User]] as const) {
    if (str(v)) out[k] = str(v) as string;
  }
  return out;
}

export async function repositoryPage(ctx: RegistryContext, q_: { search: string; last: string | null; limit: number; visible: readonly string[] | null }) {
  const rows = await q.repositorySummaries(ctx.pool, { ...q_, limit: q_.limit + 1 });
  const page = rows.slice(0, q_.limit).map((r) => ({ name: r.name, tags: r.tag_count, lastPush: r.last_push, size: r.size }));
  return { repositories: page, next: rows.length > q_.limit ? (page[page.length - 1]?.name ?? null) : null };
}

/** The repository's newest events (the journal itself: db/events.ts; this reads it backwards). */
export function recentEvents(ctx: RegistryContext, name: RepoName, before: number | null, limit: number) {
  return q.recentEvents(ctx.pool, name, before, limit);
}

export function storageView(ctx: RegistryContext) {
  return q.storageTotals(ctx.pool);
}

export type { ConfigView, DescriptorView, ManifestView, Platform, TagView };
