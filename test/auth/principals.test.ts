// Groups and robot accounts: grants to group:<name> reach every member; a robot
// logs in as robot$<name> with the secret the CLI shows once and stores hashed.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { sql } from 'slonik';
import request from 'supertest';
import { z } from 'zod';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { basic, createAuthRegistry, fetchToken, type AuthRegistry } from './support.ts';

const BIN = fileURLToPath(new URL('../../bin/bollard.js', import.meta.url));

let r: AuthRegistry;
let run: (...args: string[]) => Promise<{ stdout: string; stderr: string }>;
beforeAll(async () => {
  r = await createAuthRegistry();
  const env = { ...process.env, DATABASE_URL: r.databaseUrl, BOLLARD_USER_PASSWORD: 'member-pass-1' };
  run = (...args) => promisify(execFile)(process.execPath, [BIN, ...args], { env });
});
afterAll(() => r?.close());

const accessOf = (token: string) => decodeJwt(token)['access'];

test('groups: a grant to a group reaches its members, and stops when they leave or the group goes', async () => {
  await run('users', 'add', 'carol');
  await run('users', 'add', 'dave');
  await run('groups', 'add', 'devs');
  await run('groups', 'join', 'devs', 'carol');
  await run('grants', 'add', 'group:devs', 'devs/**', 'pull,push');
  expect((await run('groups', 'list')).stdout).toBe('devs\tcarol\n');
  expect((await run('grants', 'list', 'group:devs')).stdout).toBe('group:devs\tdevs/**\tpull,push\n');
  const scope = ['repository:devs/app:pull,push'];
  expect(accessOf(await fetchToken(r.app, ['carol', 'member-pass-1'], scope))).toEqual([{ type: 'repository', name: 'devs/app', actions: ['pull', 'push'] }]);
  expect(accessOf(await fetchToken(r.app, ['dave', 'member-pass-1'], scope))).toEqual([]);
  await expect(run('groups', 'join', 'devs', 'carol')).rejects.toMatchObject({ code: 2 });
  await expect(run('groups', 'join', 'nogroup', 'carol')).rejects.toMatchObject({ code: 2 });
  await expect(run('groups', 'join', 'devs', 'nobody')).rejects.toMatchObject({ code: 2 });
  await run('groups', 'leave', 'devs', 'carol');
  expect(accessOf(await fetchToken(r.app, ['carol', 'member-pass-1'], scope))).toEqual([]);
  await run('groups', 'join', 'devs', 'dave');
  expect(accessOf(await fetchToken(r.app, ['dave', 'member-pass-1'], scope))).toHaveLength(1);
  // removing a user drops its memberships; removing the group drops its grants
  await run('groups', 'join', 'devs', 'carol');
  await run('users', 'remove', 'carol');
  expect((await run('groups', 'list')).stdout).toBe('devs\tdave\n');
  await run('groups', 'remove', 'devs');
  expect((await run('grants', 'list', 'group:devs')).stdout).toBe('');
  expect(accessOf(await fetchToken(r.app, ['dave', 'member-pass-1'], scope))).toEqual([]);
});

test('robots: the secret is shown once, stored hashed, and works as a password for robot$<name>', async () => {
  const added = (await run('robots', 'add', 'ci')).stdout;
  const secret = /^secret: (\S+)$/m.exec(added)?.[1] as string;
  expect(added).toMatch(/^username: robot\$ci$/m);
  expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
  const stored = await r.pool.oneFirst(sql.type(z.object({ secret_hash: z.string() }))`SELECT secret_hash FROM robots WHERE name = 'ci'`);
  expect(stored).toMatch(/^\$argon2id\$/);
  expect(stored).not.toContain(secret);
  await run('grants', 'add', 'robot$ci', 'ci/**', 'pull,push');
  expect((await run('grants', 'list', 'robot:ci')).stdout).toBe('robot:ci\tci/**\tpull,push\n');
  expect((await run('robots', 'list')).stdout).toBe('robot$ci\n');
  // Basic credentials with the '$' in the name, as docker/podman/skopeo send them
  const res = await request(r.app).get('/token?scope=repository:ci/app:pull,push&offline_token=true').set('Authorization', basic('robot$ci', secret));
  expect(res.status).toBe(200);
  const body = res.body as { token: string; refresh_token: string };
  expect(decodeJwt(body.token)).toMatchObject({ sub: 'robot$ci', access: [{ type: 'repository', name: 'ci/app', actions: ['pull', 'push'] }] });
  const upload = await request(r.app).post('/v2/ci/app/blobs/uploads/').set('Authorization', `Bearer ${body.token}`);
  expect(upload.status).toBe(202);
  // a robot's grants are its own: a user named like it gets nothing, a wrong secret nothing
  expect((await request(r.app).get('/token').set('Authorization', basic('robot$ci', 'wrong-secret'))).status).toBe(401);
  const grant = await request(r.app).post('/token').type('form').send({ grant_type: 'password', username: 'robot$ci', password: secret, scope: 'repository:ci/x:pull' });
  expect(grant.status).toBe(200);
  const refreshed = await request(r.app).post('/token').type('form').send({ grant_type: 'refresh_token', refresh_token: body.refresh_token, scope: 'repository:ci/x:push' });
  expect(refreshed.status).toBe(200);
  await run('robots', 'remove', 'robot$ci');
  expect((await request(r.app).get('/token').set('Authorization', basic('robot$ci', secret))).status).toBe(401);
  expect((await request(r.app).post('/token').type('form').send({ grant_type: 'refresh_token', refresh_token: body.refresh_token })).status).toBe(401);
  expect((await run('grants', 'list', 'robot:ci')).stdout).toBe('');
  await expect(run('robots', 'add', 'Bad$Name')).rejects.toMatchObject({ code: 2 });
});
