// The pull-through cache's section of the configuration (docs/proxy.md). The
// environment gives the simple form, BOLLARD_PROXY='<prefix>=<url>,…' (anonymous
// upstreams); the file may list upstreams as objects with credentials.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { env, int } from './fields.ts';

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const PREFIX = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);

const UpstreamSchema = z
  .strictObject({
    prefix: z.string().regex(PREFIX, 'expected the first components of a repository name, e.g. hub or mirror/quay'),
    url: z.url({ protocol: /^https?$/ }),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    /** Read once at start; what it holds, trimmed, is the password. */
    passwordFile: z.string().min(1).optional(),
  })
  .transform((u, ctx) => {
    const { passwordFile, ...rest } = u;
    if (passwordFile === undefined) return rest;
    if (u.password !== undefined) ctx.addIssue({ code: 'custom', message: 'password and passwordFile are exclusive' });
    try {
      return { ...rest, password: readFileSync(passwordFile, 'utf8').trim() };
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `passwordFile ${passwordFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
      return rest;
    }
  });

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

export const ProxySchema = z.strictObject({
  /** Absent or empty: no repository is proxied. Secret: a URL or an entry may carry credentials. */
  upstreams: env('BOLLARD_PROXY', upstreams.optional(), { secret: true }),
  /** Seconds a cached tag is served before a HEAD upstream revalidates it. */
  tagTtl: env('BOLLARD_PROXY_TAG_TTL', int(0, 30 * 86_400).default(300)),
  /** Seconds an upstream has to answer, and that its body may stall. */
  timeout: env('BOLLARD_PROXY_TIMEOUT', int(1, 3600).default(30)),
});
