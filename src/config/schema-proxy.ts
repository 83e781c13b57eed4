// The pull-through cache's section of the configuration (docs/proxy.md). The
// environment gives the simple forms, BOLLARD_PROXY='<prefix>=<url>,…' and
// BOLLARD_PROXY_MIRROR=<url> (anonymous upstreams); the file may give each
// upstream, and the mirror, as an object with credentials and settings of its own.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { isValidGlob } from '../shared/glob.ts';
import { bool, env, int } from './fields.ts';

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const PREFIX = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);

/** What an upstream and the mirror both take; tagTtl and timeout default to the section's own. */
const UPSTREAM_FIELDS = {
  // fetch refuses a URL with credentials; say so at start, without echoing them
  url: z.url({ protocol: /^https?$/ }).refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), 'credentials go in username and password(File), not in the URL'),
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  /** Read once at start; what it holds, trimmed, is the password. */
  passwordFile: z.string().min(1).optional(),
  tagTtl: int(0, 30 * 86_400).optional(),
  timeout: int(1, 3600).optional(),
  /** Globs on the upstream's name of a repository (src/shared/glob.ts); absent: every name. */
  names: z.array(z.string().refine(isValidGlob, 'expected a repository glob, e.g. library/* or team/**')).min(1).optional(),
  /** Pushes and deletes allowed beside the cached content. */
  pushes: bool.optional(),
};

/** Replaces passwordFile by the password it holds. */
function readPasswordFile<T extends { password?: string; passwordFile?: string }>(u: T, ctx: z.RefinementCtx): Omit<T, 'passwordFile'> {
  const { passwordFile, ...rest } = u;
  if (passwordFile === undefined) return rest;
  if (u.password !== undefined) ctx.addIssue({ code: 'custom', message: 'password and passwordFile are exclusive' });
  try {
    return { ...rest, password: readFileSync(passwordFile, 'utf8').trim() };
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `passwordFile ${passwordFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
    return rest;
  }
}

const UpstreamSchema = z
  .strictObject({
    prefix: z.string().regex(PREFIX, 'expected the first components of a repository name, e.g. hub or mirror/quay'),
    ...UPSTREAM_FIELDS,
  })
  .transform(readPasswordFile);

/** The variable gives the URL alone; the file an object. */
const MirrorSchema = z.preprocess((v) => (typeof v === 'string' ? { url: v.trim() } : v), z.strictObject(UPSTREAM_FIELDS).transform(readPasswordFile));

/** `hub=https://registry-1.docker.io,q=https://quay.io` → upstream objects; the file's list is taken as it is. */
function simpleForm(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  return v.split(',').map((s) => s.trim()).filter((s) => s !== '').map((pair) => {
    const at = pair.indexOf('=');
    return at < 0 ? { prefix: pair, url: '' } : { prefix: pair.slice(0, at).trim(), url: pair.slice(at + 1).trim() };
  });
}

const upstreams = z.preprocess(simpleForm, z.array(UpstreamSchema)).superRefine((list, ctx) => {
  // a name must belong to one upstream: no prefix may be a prefix (by whole components) of another
  for (const a of list) {
    for (const b of list) {
      if (a !== b && (a.prefix === b.prefix || b.prefix.startsWith(`${a.prefix}/`))) {
        ctx.addIssue({ code: 'custom', message: `prefixes ${a.prefix} and ${b.prefix} overlap` });
        return;
      }
    }
  }
});

export type UpstreamSetting = z.output<typeof UpstreamSchema>;

export const ProxySchema = z.strictObject({
  /** Absent or empty: no repository is proxied. Secret: a URL or an entry may carry credentials. */
  upstreams: env('BOLLARD_PROXY', upstreams.optional(), { secret: true }),
  /** The upstream of every name under no prefix, for clients configured with it as a mirror. */
  mirror: env('BOLLARD_PROXY_MIRROR', MirrorSchema.optional(), { secret: true }),
  /** Seconds a cached tag is served before a HEAD upstream revalidates it. */
  tagTtl: env('BOLLARD_PROXY_TAG_TTL', int(0, 30 * 86_400).default(300)),
  /** Seconds an upstream has to answer, and that its body may stall. */
  timeout: env('BOLLARD_PROXY_TIMEOUT', int(1, 3600).default(30)),
});
