// Operator commands while `bollard serve` runs on the embedded PostgreSQL: they
// use serve's server (found from the data dir) and leave it running, instead of
// failing to start a second one on the same directory.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { freePort } from '../support/ports.ts';
import { BIN, NODE, alive, cleanup, gone, postmasterPid, startServe, type ServeChild } from './serve-child.ts';

let serve: ServeChild | undefined;
let dataDir: string | undefined;
afterAll(async () => {
  cleanup(serve, dataDir);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function bollard(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function token(base: string, user: string, password: string, scope: string): Promise<{ status: number; access: unknown }> {
  const res = await fetch(`${base}/token?service=bollard&scope=${encodeURIComponent(scope)}`, {
    headers: { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
  });
  if (res.status !== 200) return { status: res.status, access: null };
  const jwt = ((await res.json()) as { token: string }).token;
  const claims = JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString()) as { access: unknown };
  return { status: 200, access: claims.access };
}

test('users, grants and gc run beside a serve on the embedded PostgreSQL, and serve keeps serving', async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'bollard-life-cli-'));
  serve = await startServe({
    dataDir,
    embeddedPort: await freePort(),
    env: { BOLLARD_AUTH: 'token', BOLLARD_ADMIN_PASSWORD: 'admin-password-1' },
  });
  const base = `http://127.0.0.1:${serve.port}`;
  const pm = postmasterPid(dataDir);
  expect(pm).not.toBeNull();
  expect((await token(base, 'alice', 'alice-password-1', 'repository:team/app:pull')).status).toBe(401);

  const env = { ...serve.env, BOLLARD_USER_PASSWORD: 'alice-password-1' };
  const add = await bollard(['users', 'add', 'alice'], env);
  expect(add.code, add.stderr).toBe(0);
  const grant = await bollard(['grants', 'add', 'alice', 'team/**', 'pull,push'], env);
  expect(grant.code, grant.stderr).toBe(0);
  const gc = await bollard(['gc', '--json'], env);
  expect(gc.code, gc.stderr).toBe(0);
  expect(() => JSON.parse(gc.stdout) as unknown).not.toThrow();

  // the commands' effect, through the running registry
  const t = await token(base, 'alice', 'alice-password-1', 'repository:team/app:pull,push');
  expect(t.status).toBe(200);
  expect(t.access).toEqual([{ type: 'repository', name: 'team/app', actions: expect.arrayContaining(['pull', 'push']) as unknown }]);
  // serve's own PostgreSQL is the one still running, untouched
  expect(postmasterPid(dataDir)).toBe(pm);
  expect(alive(pm as number)).toBe(true);
  expect(serve.running()).toBe(true);
  expect(serve.logged('embedded postgres died')).toEqual([]);

  process.kill(serve.pid, 'SIGTERM');
  expect(await serve.exited).toBe(0);
  expect(await gone(pm as number)).toBe(true);

  // with serve gone, a command starts the embedded server itself and stops it again
  const list = await bollard(['users', 'list'], env);
  expect(list.code, list.stderr).toBe(0);
  expect(list.stdout.split('\n')).toContain('alice');
  const after = postmasterPid(dataDir);
  expect(after === null || !alive(after)).toBe(true);
});
