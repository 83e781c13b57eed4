// End-to-end with token auth on: skopeo and podman log in to `bollard serve` as a
// user and as a robot account (robot$<name>, with the secret the CLI printed),
// push and pull through the Bearer token flow, and are refused without
// credentials or outside their grants. Every digest must survive the round trip.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type ServerProcess } from '../support/server.ts';
import { createSandbox, lastLine, requireTools, tools, writeTar, type Sandbox, type Tools } from './containers-sandbox.ts';
import { initLayout, sha256, writeImage, writeIndexJson, type BuiltImage } from './oci-layout.ts';

const VERSIONS = await requireTools('test/e2e/token-auth.test.ts', ['podman', 'skopeo']);
const BIN = fileURLToPath(new URL('../../bin/bollard.js', import.meta.url));
const ALICE_PASSWORD = 'alice-e2e-password-1';

/** The tool failed, and for want of access (not, say, a bad flag). */
function refused(r: { code: number | null; stderr: string }): void {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.stderr).toMatch(/unauthorized|denied|forbidden|authentication required|invalid username\/password/i);
}

describe.skipIf(!VERSIONS)(`skopeo and podman with token auth (${VERSIONS?.skopeo}, ${VERSIONS?.podman})`, () => {
  let server: ServerProcess;
  let sandbox: Sandbox;
  let t: Tools;
  let layout: string;
  let image: BuiltImage;
  let robotSecret: string;
  const host = () => server.hostPort;
  const tls = ['--tls-verify=false'];

  beforeAll(async () => {
    server = await startServer({ env: { BOLLARD_AUTH: 'token', BOLLARD_ADMIN_PASSWORD: 'e2e-admin-password-1' } });
    const env = { ...process.env, DATABASE_URL: server.databaseUrl, BOLLARD_DATA_DIR: server.dataDir, BOLLARD_USER_PASSWORD: ALICE_PASSWORD };
    const cli = (...args: string[]) => promisify(execFile)(process.execPath, [BIN, ...args], { env });
    await cli('users', 'add', 'alice');
    await cli('grants', 'add', 'alice', 'team/**', 'pull,push');
    robotSecret = /^secret: (\S+)$/m.exec((await cli('robots', 'add', 'ci')).stdout)?.[1] as string;
    await cli('grants', 'add', 'robot$ci', 'ci/**', 'pull,push');
    await cli('grants', 'add', 'robot$ci', 'team/**', 'pull');
    sandbox = await createSandbox('bl-tokauth-', server.hostPort);
    t = tools(sandbox, () => server);
    layout = join(sandbox.dir, 'layout');
    await initLayout(layout);
    image = await writeImage(layout, {
      platform: { architecture: 'amd64', os: 'linux' },
      layers: [[{ path: 'etc/' }, { path: 'etc/token-e2e.txt', data: 'hello through tokens\n' }, { path: 'opt.bin', randomSize: 64 * 1024 }]],
    });
    await writeIndexJson(layout, [{ ref: 'v1', descriptor: image.manifest }]);
    await writeTar(join(sandbox.dir, 'rootfs.tar'), [{ path: 'etc/' }, { path: 'etc/podman-e2e.txt', data: 'hello from podman\n' }]);
  });

  afterAll(async () => {
    await server?.destroy();
    await sandbox?.remove();
  });

  test('skopeo login as a user, copy in and out; a wrong password is refused', async () => {
    const bad = await t.attempt('skopeo', '', ['login', ...tls, '-u', 'alice', '-p', 'wrong-password', host()]);
    refused(bad);
    await t.ok('skopeo', '', ['login', ...tls, '-u', 'alice', '-p', ALICE_PASSWORD, host()]);
    await t.ok('skopeo', '', ['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${host()}/team/app:v1`]);
    expect(sha256(await t.inspectRaw('team/app:v1'))).toBe(image.manifest.digest);
    // alice may not push outside team/**
    const outside = await t.attempt('skopeo', '', ['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${host()}/ci/app:v1`]);
    refused(outside);
    await t.ok('skopeo', '', ['logout', host()]);
    // logged out: no anonymous access
    const anon = await t.attempt('skopeo', '', ['inspect', '--raw', ...tls, `docker://${host()}/team/app:v1`]);
    refused(anon);
  });

  test('skopeo copy --dest-creds / --src-creds with a robot account', async () => {
    const creds = `robot$ci:${robotSecret}`;
    await t.ok('skopeo', '', ['copy', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${layout}:v1`, `docker://${host()}/ci/app:v1`]);
    const out = join(sandbox.dir, 'out');
    await t.ok('skopeo', '', ['copy', '--src-tls-verify=false', '--src-creds', creds, `docker://${host()}/ci/app:v1`, `oci:${out}:v1`]);
    // the robot also reads team/** (pull only), and the manifest comes back byte for byte
    const raw = await t.ok('skopeo', '', ['inspect', '--raw', ...tls, '--creds', creds, `docker://${host()}/team/app:v1`]);
    expect(sha256(raw.stdout)).toBe(image.manifest.digest);
    const wrong = await t.attempt('skopeo', '', ['inspect', '--raw', ...tls, '--creds', 'robot$ci:not-the-secret', `docker://${host()}/ci/app:v1`]);
    refused(wrong);
  });

  test('podman login as the robot, push, pull back into a fresh store', async () => {
    const id = lastLine(await t.ok('podman', 'main', ['import', '--os', 'linux', '--arch', 'amd64', join(sandbox.dir, 'rootfs.tar'), 'localhost/e2e/tok:v1']));
    await t.ok('podman', 'main', ['login', ...tls, '-u', 'robot$ci', '-p', robotSecret, host()]);
    const digestFile = join(sandbox.dir, 'podman-digest');
    await t.ok('podman', 'main', ['push', ...tls, '--signature-policy', sandbox.policy, '--digestfile', digestFile, 'localhost/e2e/tok:v1', `docker://${host()}/ci/podman:v1`]);
    const digest = await t.digestFile(digestFile);
    const pull = await t.ok('podman', 'fresh', ['pull', ...tls, '--signature-policy', sandbox.policy, `${host()}/ci/podman:v1`]);
    expect(lastLine(pull).replace(/^sha256:/, '')).toBe(id.replace(/^sha256:/, ''));
    const info = JSON.parse((await t.ok('podman', 'fresh', ['image', 'inspect', `${host()}/ci/podman:v1`])).stdout) as Array<{ Digest: string }>;
    expect(info[0]?.Digest).toBe(digest);
    // the robot may pull team/** but not push there
    const denied = await t.attempt('podman', 'main', ['push', ...tls, '--signature-policy', sandbox.policy, 'localhost/e2e/tok:v1', `docker://${host()}/team/podman:v1`]);
    refused(denied);
    await t.ok('podman', 'main', ['logout', host()]);
  });

  test('podman login --tls-verify=false as a user, push and pull', async () => {
    await t.ok('podman', 'main', ['login', ...tls, '-u', 'alice', '-p', ALICE_PASSWORD, host()]);
    await t.ok('podman', 'main', ['push', ...tls, '--signature-policy', sandbox.policy, 'localhost/e2e/tok:v1', `docker://${host()}/team/podman:v1`]);
    await t.ok('podman', 'other', ['pull', ...tls, '--signature-policy', sandbox.policy, `${host()}/team/podman:v1`]);
    expect(server.output()).not.toContain(ALICE_PASSWORD);
    expect(server.output()).not.toContain(robotSecret);
  });
});
