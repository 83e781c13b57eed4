// Our conformance suite against a real `bollard serve` with token auth on: the
// suite answers each Bearer challenge by fetching a token from the realm with the
// admin credentials. Also the operator CLI against that server's database.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runConformance } from '../../conformance/index.ts';
import { startServer, type ServerProcess } from '../support/server.ts';

const BIN = fileURLToPath(new URL('../../bin/bollard.js', import.meta.url));
const ADMIN_PASSWORD = 'conformance-admin-1';

let server: ServerProcess;
beforeAll(async () => {
  // sparse manifests on, so the sparse workflow runs with auth too (test/conformance.test.ts runs it off)
  server = await startServer({ env: { BOLLARD_AUTH: 'token', BOLLARD_ADMIN_PASSWORD: ADMIN_PASSWORD, BOLLARD_SPARSE_MANIFESTS: 'true' } });
});
afterAll(() => server?.destroy());

test('every conformance check passes with token auth on, the sparse workflow included', async () => {
  const report = await runConformance({ baseUrl: server.url, username: 'admin', password: ADMIN_PASSWORD, sparse: true });
  const failed = report.results.filter((r) => r.status === 'fail');
  expect(failed, failed.map((f) => `${f.workflow}: ${f.name} -- ${f.detail}`).join('\n')).toEqual([]);
  const skipped = report.results.filter((r) => r.status === 'skip');
  expect(skipped.map((s) => s.name).every((n) => /fallback/.test(n))).toBe(true);
  expect(report.passed).toBeGreaterThan(100);
  expect(server.output()).not.toContain(ADMIN_PASSWORD);
});

test('without credentials the suite is refused at the first request', async () => {
  const res = await fetch(`${server.url}/v2/`);
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="${server.url}/token",service="bollard"`);
});

test('bollard users / grants manage who may do what', async () => {
  const env = { ...process.env, DATABASE_URL: server.databaseUrl, BOLLARD_DATA_DIR: server.dataDir, BOLLARD_USER_PASSWORD: 'ci-password-1' };
  const run = (...args: string[]) => promisify(execFile)(process.execPath, [BIN, ...args], { env });
  await run('users', 'add', 'ci');
  await run('grants', 'add', 'ci', 'ci/**', 'pull,push');
  await run('grants', 'add', 'anonymous', 'library/*', 'pull');
  expect((await run('users', 'list')).stdout).toBe('admin\nci\n');
  expect((await run('grants', 'list')).stdout).toBe('anonymous\tlibrary/*\tpull\nuser:admin\t**\tpull,push,delete\nuser:ci\tci/**\tpull,push\n');
  const token = async (user: string | null) => {
    const headers: Record<string, string> = user ? { authorization: `Basic ${Buffer.from(`${user}:ci-password-1`).toString('base64')}` } : {};
    const res = await fetch(`${server.url}/token?scope=repository:ci/app:pull,push&scope=repository:library/x:pull`, { headers });
    return { status: res.status, body: (await res.json()) as { token: string } };
  };
  const ci = await token('ci');
  expect(ci.status).toBe(200);
  const access = JSON.parse(Buffer.from(ci.body.token.split('.')[1] as string, 'base64url').toString()).access;
  expect(access).toEqual([
    { type: 'repository', name: 'ci/app', actions: ['pull', 'push'] },
    { type: 'repository', name: 'library/x', actions: ['pull'] },
  ]);
  await expect(run('users', 'add', 'ci')).rejects.toMatchObject({ code: 2 });
  await expect(run('grants', 'add', 'ci', 'ci/**', 'write')).rejects.toMatchObject({ code: 2 });
  await run('users', 'remove', 'ci');
  expect((await token('ci')).status).toBe(401);
  expect((await run('grants', 'list', 'ci')).stdout).toBe('');
});
