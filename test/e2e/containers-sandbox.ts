// A hermetic sandbox for driving Debian's buildah, podman and skopeo against a
// `bollard serve` process: every piece of state the tools keep (image storage,
// run and tmp dirs, network config, caches, policy, registries.conf, auth file)
// lives in one temp dir, so tests neither depend on the host's /etc/containers
// configuration nor leave anything in /var/lib/containers, /run or /etc. Commands run from argument
// arrays, never through a shell, each with a time limit.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect, test } from 'vitest';
import type { ServerProcess } from '../support/server.ts';
import { tarStream, type TarEntry } from './oci-layout.ts';

export type Tool = 'buildah' | 'podman' | 'skopeo';

export interface Run {
  cmd: string;
  args: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

const TOOL_TIMEOUT_MS = 60_000;

export const ON_CI = !!process.env.CI && !['0', 'false'].includes(process.env.CI.toLowerCase());

export interface RunOptions {
  cwd?: string;
  timeoutMs?: number;
  /** Written to the command's stdin (which is otherwise closed). */
  input?: string;
}

/** Runs a command with an argument array (no shell), collecting its output; killed at its time limit. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: RunOptions = {}): Promise<Run> {
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? TOOL_TIMEOUT_MS;
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, cwd: opts.cwd, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.input);
    const timer = setTimeout(() => {
      stderr += `\n[test] killed after ${timeoutMs} ms`;
      child.kill('SIGKILL');
    }, timeoutMs);
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      resolve({ cmd, args, code, signal, stdout, stderr, ms: Date.now() - started });
    };
    child.once('error', (err) => {
      stderr += `\n[test] ${String(err)}`;
      done(null, null);
    });
    child.once('close', done);
  });
}

async function version(tool: Tool): Promise<string | undefined> {
  const r = await run(tool, ['--version'], process.env, { timeoutMs: 30_000 });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/**
 * Versions of the tools a test file needs. When one is missing the file's
 * suite should be skipped; on CI (which installs them) a failing test says so.
 */
export async function requireTools(file: string, tools: Tool[]): Promise<Record<Tool, string> | undefined> {
  const found = await Promise.all(tools.map(async (t) => [t, await version(t)] as const));
  const missing = found.filter(([, v]) => !v).map(([t]) => t);
  if (missing.length === 0) return Object.fromEntries(found) as Record<Tool, string>;
  const install = `apt-get install -y ${missing.join(' ')}`;
  if (ON_CI) {
    test(`${missing.join(', ')} installed`, () => {
      expect.fail(`${missing.join(', ')} not on PATH, but CI is set: the CI script must install them (${install})`);
    });
  } else {
    console.log(`${file}: skipped, ${missing.join(', ')} not installed (${install} to run it)`);
  }
  return undefined;
}

function tail(text: string, max = 8_000): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

export interface Sandbox {
  dir: string;
  /** The policy.json accepting anything, for `--signature-policy`. */
  policy: string;
  env: NodeJS.ProcessEnv;
  /** Global flags selecting one of the sandbox's image stores (created on first use). */
  storeFlags(tool: Tool, store: string): string[];
  remove(): Promise<void>;
}

/** Creates the sandbox's config files; `registry` (host:port) is marked insecure. */
export async function createSandbox(prefix: string, registry: string): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const p = (...parts: string[]) => join(dir, ...parts);
  const home = p('home');
  const config = p('home', '.config');
  // Empty per-user registries.conf.d and registries.d hide the ones in /etc/containers.
  const registriesD = join(config, 'containers', 'registries.d');
  const registriesConfD = join(config, 'containers', 'registries.conf.d');
  for (const d of [p('run'), p('tmp'), p('networks'), p('volumes'), p('libpod-tmp'), registriesD, registriesConfD]) {
    await mkdir(d, { recursive: true, mode: 0o700 });
  }
  const policy = p('policy.json');
  const policyJson = JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] });
  await writeFile(policy, policyJson);
  // Commands without --signature-policy (podman manifest push) read ~/.config/containers/policy.json.
  await writeFile(join(config, 'containers', 'policy.json'), policyJson);
  const registriesConf = p('registries.conf');
  await writeFile(registriesConf, toml({ 'unqualified-search-registries': [] }, { '[registry]': { location: registry, insecure: true } }));
  const storageConf = p('storage.conf');
  await writeFile(storageConf, toml({}, { storage: { driver: 'vfs', graphroot: p('stores', 'default'), runroot: p('r', 'default') } }));
  const containersConf = p('containers.conf');
  const engine = { tmp_dir: p('libpod-tmp'), events_logger: 'none', volume_path: p('volumes') };
  await writeFile(containersConf, toml({}, { engine, network: { network_config_dir: p('networks') } }));
  const authFile = p('auth.json');
  await writeFile(authFile, JSON.stringify({ auths: {} }));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    TMPDIR: p('tmp'),
    XDG_RUNTIME_DIR: p('run'),
    XDG_CONFIG_HOME: config,
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_CACHE_HOME: join(home, '.cache'),
    REGISTRY_AUTH_FILE: authFile,
    CONTAINERS_REGISTRIES_CONF: registriesConf,
    CONTAINERS_STORAGE_CONF: storageConf,
    CONTAINERS_CONF: containersConf,
    // As root, containers/image and containers/common keep the blob-info cache in
    // /var/lib/containers/cache and network state in /run/containers, whatever the
    // flags say. A non-zero "rootless" uid moves them under XDG_DATA_HOME and
    // XDG_RUNTIME_DIR; _CONTAINERS_USERNS_CONFIGURED tells buildah and podman not to
    // re-exec into a user namespace (the process stays real root, uid map 0→0).
    ...(process.getuid?.() === 0 ? { _CONTAINERS_ROOTLESS_UID: '1000', _CONTAINERS_USERNS_CONFIGURED: 'done' } : {}),
  };
  return {
    dir,
    policy,
    env,
    storeFlags(tool, store) {
      const root = p('stores', store);
      // podman refuses a runroot longer than 50 characters (conmon's socket paths), so keep it short.
      const runroot = p('r', store);
      if (runroot.length > 50) throw new Error(`runroot ${runroot} is longer than podman's 50 characters: use a shorter TMPDIR`);
      if (tool === 'skopeo') {
        return ['--policy', policy, '--registries-conf', registriesConf, '--registries.d', registriesD, '--tmpdir', p('tmp')];
      }
      const common = ['--root', root, '--runroot', runroot, '--storage-driver', 'vfs'];
      if (tool === 'buildah') return [...common, '--registries-conf', registriesConf];
      const podman = ['--tmpdir', p('libpod', store), '--events-backend', 'none', '--network-config-dir', p('networks')];
      return [...common, ...podman, '--cgroup-manager', 'cgroupfs'];
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface Tools {
  /** Runs a tool in `store`; a non-zero exit fails the test with the tool's stderr and the server log. */
  ok(tool: Tool, store: string, args: string[]): Promise<Run>;
  /** Runs a tool in `store` and returns whatever happened. */
  attempt(tool: Tool, store: string, args: string[]): Promise<Run>;
  /** What to print when an assertion about `r` fails. */
  why(r: Run): string;
  /** Raw manifest bytes of `ref` (a repository path with :tag or @digest) as skopeo fetches them. */
  inspectRaw(ref: string): Promise<Buffer>;
  /** The digest a --digestfile holds. */
  digestFile(path: string): Promise<string>;
}

export function tools(sandbox: Sandbox, server: () => ServerProcess): Tools {
  const why = (r: Run) =>
    [
      `${r.cmd} ${r.args.join(' ')}`,
      `exit ${r.code ?? r.signal} after ${r.ms} ms`,
      `--- ${r.cmd} stderr ---\n${tail(r.stderr)}`,
      `--- ${r.cmd} stdout ---\n${tail(r.stdout, 2_000)}`,
      `--- server log ---\n${tail(server().output())}`,
    ].join('\n');
  const attempt = (tool: Tool, store: string, args: string[]) => run(tool, [...sandbox.storeFlags(tool, store), ...args], sandbox.env);
  const ok = async (tool: Tool, store: string, args: string[]) => {
    const r = await attempt(tool, store, args);
    if (r.code !== 0) expect.fail(why(r));
    return r;
  };
  return {
    ok,
    attempt,
    why,
    inspectRaw: async (ref) => {
      const r = await ok('skopeo', '', ['inspect', '--raw', '--tls-verify=false', `docker://${server().hostPort}/${ref}`]);
      return Buffer.from(r.stdout, 'utf8');
    },
    digestFile: async (path) => (await readFile(path, 'utf8')).trim(),
  };
}

type TomlValue = string | boolean | string[];

/** A TOML document: top-level keys, then tables (a '[name]' key makes an array-of-tables entry). */
function toml(top: Record<string, TomlValue>, tables: Record<string, Record<string, TomlValue>>): string {
  const kv = (o: Record<string, TomlValue>) => Object.entries(o).map(([k, v]) => `${k} = ${JSON.stringify(v)}\n`).join('');
  return kv(top) + Object.entries(tables).map(([name, o]) => `\n[${name}]\n${kv(o)}`).join('');
}

/** Writes a plain (uncompressed) tar of `entries`, as `podman import` takes it. */
export async function writeTar(path: string, entries: TarEntry[]): Promise<void> {
  await pipeline(Readable.from(tarStream(entries)), createWriteStream(path));
}

/** The last non-empty line of a tool's stdout (image IDs, container names). */
export function lastLine(r: Run): string {
  return r.stdout.trim().split('\n').at(-1)?.trim() ?? '';
}

export interface HttpManifest {
  status: number;
  body: Buffer;
  contentType: string | null;
  /** Docker-Content-Digest */
  headerDigest: string | null;
}

/** An Accept header admitting every manifest media type. */
export const ALL_MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** A manifest fetched over HTTP with every manifest media type accepted. */
export async function getManifest(server: ServerProcess, repo: string, ref: string): Promise<HttpManifest> {
  const res = await fetch(`${server.url}/v2/${repo}/manifests/${ref}`, {
    headers: {
      Accept: ALL_MANIFEST_TYPES,
    },
  });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, body, contentType: res.headers.get('content-type'), headerDigest: res.headers.get('docker-content-digest') };
}

/** `GET /v2/<repo>/tags/list`: the status and the tags, sorted. */
export async function listTags(server: ServerProcess, repo: string): Promise<{ status: number; name?: string; tags: string[]; text: string }> {
  const res = await fetch(`${server.url}/v2/${repo}/tags/list`);
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, tags: [], text };
  const doc = JSON.parse(text) as { name: string; tags: string[] | null };
  return { status: res.status, name: doc.name, tags: [...(doc.tags ?? [])].sort(), text };
}
