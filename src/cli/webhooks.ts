// `bollard webhooks …`: the endpoints that receive the event journal.
import { globToRegex, isValidGlob } from '../shared/glob.ts';
import { deleteEndpoint, insertEndpoint, listEndpoints } from '../db/webhooks.ts';
import { UsageError } from './access.ts';
import { withDatabase } from './database.ts';

const KIND_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export async function runWebhooks(args: string[]): Promise<void> {
  const [verb, ...rest] = args;
  if (verb === 'list') {
    const rows = await withDatabase((pool) => listEndpoints(pool));
    const line = (r: (typeof rows)[number]) =>
      `${r.id}\t${r.url}\trepository=${r.repository_glob ?? '**'}\tevents=${r.kinds?.join(',') ?? '*'}\t${r.enabled ? 'enabled' : 'disabled'}\tpending=${r.pending}\n`;
    process.stdout.write(rows.map(line).join(''));
  } else if (verb === 'add') {
    const { url, options } = parseAdd(rest);
    const secret = options.get('secret') ?? process.env['BOLLARD_WEBHOOK_SECRET'] ?? '';
    if (secret.length < 8) throw new UsageError('expected --secret <secret> of at least 8 characters');
    const glob = options.get('repository') ?? null;
    if (glob !== null && !isValidGlob(glob)) throw new UsageError(`invalid repository glob "${glob}"`);
    const kinds = options.has('events') ? (options.get('events') as string).split(',').filter((k) => k !== '') : null;
    if (kinds !== null && (kinds.length === 0 || !kinds.every((k) => KIND_RE.test(k)))) {
      throw new UsageError('expected --events as comma-separated event kinds, e.g. manifest.push,tag.set');
    }
    const repository = glob === null ? null : { glob, regex: globToRegex(glob) };
    const id = await withDatabase((pool) => insertEndpoint(pool, { url, secret, repository, kinds }));
    process.stdout.write(`added webhook ${id} -> ${url}\n`);
  } else if (verb === 'remove') {
    const id = rest[0] ?? '';
    if (!/^\d{1,15}$/.test(id)) throw new UsageError('expected the numeric id of an endpoint (see `bollard webhooks list`)');
    if (!(await withDatabase((pool) => deleteEndpoint(pool, Number(id))))) throw new UsageError(`no webhook ${id}`);
    process.stdout.write(`removed webhook ${id}\n`);
  } else throw new UsageError(`unknown webhooks command "${verb ?? ''}"`);
}

function parseAdd(args: string[]): { url: string; options: Map<string, string> } {
  const options = new Map<string, string>();
  let url: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const m = /^--(secret|repository|events)(?:=(.*))?$/.exec(a);
    if (m) {
      const value = m[2] ?? args[++i];
      if (value === undefined) throw new UsageError(`${a} needs a value`);
      options.set(m[1] as string, value);
    } else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
    else if (url === null) url = a;
    else throw new UsageError(`unexpected argument "${a}"`);
  }
  if (url === null || !isHttpUrl(url)) throw new UsageError('expected an http:// or https:// URL');
  return { url, options };
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
