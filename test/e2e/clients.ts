// Finding and running the registry clients that scripts/clients/install-*.sh
// provide (oras, crane, docker): on PATH, or in the install scripts' cache
// (scripts/clients/lib.sh). A missing client skips its file locally with a note,
// and fails it on CI, which installs them.
import { createHash } from 'node:crypto';
import { access, constants } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import type { ServerProcess } from '../support/server.ts';
import { ALL_MANIFEST_TYPES, ON_CI, run, type Run, type RunOptions } from './containers-sandbox.ts';

export { ON_CI, run, type Run, type RunOptions };

/** Where scripts/clients/lib.sh puts the binaries it builds or unpacks. */
function cacheBinDirs(): string[] {
  const dirs = ['/var/cache/bollard-ci/bin', join(homedir(), '.cache', 'bollard-ci', 'bin')];
  const own = process.env['BOLLARD_CLIENTS_CACHE'];
  return own ? [join(own, 'bin'), ...dirs] : dirs;
}

async function executable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

export interface Client {
  path: string;
  version: string;
}

/**
 * The first of `candidates` (absolute paths or names on PATH), then `name` in
 * the install cache, that runs `versionArgs` with exit 0 and prints `expect`.
 */
export async function findClient(name: string, versionArgs: string[], opts: { candidates?: string[]; version?: RegExp } = {}): Promise<Client | undefined> {
  const cached = [];
  for (const dir of cacheBinDirs()) if (await executable(join(dir, name))) cached.push(join(dir, name));
  for (const path of [...(opts.candidates ?? [name]), ...cached]) {
    const r = await run(path, versionArgs, process.env, { timeoutMs: 30_000 });
    const out = `${r.stdout}\n${r.stderr}`.trim();
    if (r.code === 0 && (!opts.version || opts.version.test(out))) return { path, version: (out.split('\n')[0] ?? out).replace(/\s+/g, ' ') };
  }
  return undefined;
}

/** Registers the failing test (CI) or prints the skip note (locally) for a missing client. */
export function missingClient(file: string, name: string, install: string): void {
  if (ON_CI) {
    test(`${name} is installed`, () => {
      expect.fail(`${name} was not found on PATH nor in the clients cache, but CI is set: .ci/run must install it (${install})`);
    });
  } else {
    console.log(`${file}: skipped, ${name} is not installed (${install} to run it)`);
  }
}

function tail(text: string, max = 8_000): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

export interface Runner {
  /** Runs the client; a non-zero exit fails the test with its output and the server's log. */
  ok(args: string[], opts?: RunOptions): Promise<Run>;
  /** Runs the client and returns whatever happened. */
  attempt(args: string[], opts?: RunOptions): Promise<Run>;
  why(r: Run): string;
}

export function runner(path: string, env: () => NodeJS.ProcessEnv, server: () => ServerProcess | undefined, timeoutMs = 90_000): Runner {
  const why = (r: Run) =>
    [
      `${r.cmd} ${r.args.join(' ')}`,
      `exit ${r.code ?? r.signal} after ${r.ms} ms`,
      `--- stderr ---\n${tail(r.stderr)}`,
      `--- stdout ---\n${tail(r.stdout, 2_000)}`,
      `--- server log ---\n${tail(server()?.output() ?? '')}`,
    ].join('\n');
  const attempt = (args: string[], opts: RunOptions = {}) => run(path, args, env(), { timeoutMs, ...opts });
  return {
    why,
    attempt,
    ok: async (args, opts = {}) => {
      const r = await attempt(args, opts);
      if (r.code !== 0) expect.fail(why(r));
      return r;
    },
  };
}

/** The tool failed, and for want of access (not, say, a bad flag). */
export function refused(r: Run): void {
  expect(r.code, r.stderr).not.toBe(0);
  expect(`${r.stderr}\n${r.stdout}`).toMatch(/unauthorized|denied|forbidden|authentication required|invalid username\/password|401/i);
}

/** A manifest as the registry serves it by `ref` (tag or digest), every manifest type accepted. */
export async function fetchManifest(server: ServerProcess, repo: string, ref: string): Promise<{ status: number; body: Buffer; type: string | null; digest: string | null }> {
  const res = await fetch(`${server.url}/v2/${repo}/manifests/${ref}`, {
    headers: {
      Accept: ALL_MANIFEST_TYPES,
    },
  });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type'), digest: res.headers.get('docker-content-digest') };
}

/** sha256 and size of a blob as the registry streams it (never held in memory). */
export async function fetchBlobDigest(server: ServerProcess, repo: string, digest: string): Promise<{ status: number; digest: string; size: number }> {
  const res = await fetch(`${server.url}/v2/${repo}/blobs/${digest}`);
  const hash = createHash('sha256');
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.length;
    }
  }
  return { status: res.status, digest: `sha256:${hash.digest('hex')}`, size };
}
