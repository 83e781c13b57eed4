// End-to-end: Docker 20.10 (bookworm's docker.io, from scripts/clients/install-docker.sh)
// against a `bollard serve` process that starts empty. The test runs its own
// dockerd (own socket, data and exec roots in a temp dir, no iptables, no bridge)
// and stops it by its pid afterwards; images are built FROM scratch with the
// legacy builder from files the test writes, so nothing is downloaded. What the
// registry holds is checked against the image IDs and layers docker reports.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type ServerProcess } from '../support/server.ts';
import { testStorageKind } from '../support/stores.ts';
import { fetchBlobDigest, fetchManifest, findClient, ON_CI, missingClient, refused, runner, type Runner } from './clients.ts';
import { context, DOCKERD, pushedDigest, randomFile, startDaemon, type Daemon } from './docker-daemon.ts';
import { putBlob, putManifest, recordingProxy } from './registry-http.ts';
import { sha256 } from './oci-layout.ts';

const DOCKER = await findClient('docker', ['--version'], { candidates: ['/usr/bin/docker'], version: /version 20\.10\./ });
const DAEMON = DOCKER ? await findClient(DOCKERD, ['--version'], { candidates: [DOCKERD], version: /version 20\.10\./ }) : undefined;
if (!DOCKER || !DAEMON) missingClient('test/e2e/docker.test.ts', 'docker 20.10 (docker.io)', 'bash scripts/clients/install-docker.sh');
const ROOT = process.getuid?.() === 0;
if (DOCKER && DAEMON && !ROOT) {
  if (ON_CI) test('dockerd can run', () => expect.fail('the docker e2e test runs its own dockerd, which needs root, but CI is set and this is not root'));
  else console.log('test/e2e/docker.test.ts: skipped, its own dockerd needs root');
}

const BIN = fileURLToPath(new URL('../../bin/bollard.js', import.meta.url));
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** The 64 MB layer runs on the filesystem driver only: on S3 it would double the file's time for little news. */
const BIG_LAYER = testStorageKind() === 'fs';

interface ManifestDoc {
  mediaType: string;
  config: { digest: string; size: number };
  layers: Array<{ mediaType: string; digest: string; size: number }>;
}


describe.skipIf(!DOCKER || !DAEMON || !ROOT)(`docker (${DOCKER?.version}) against bollard serve`, () => {
  let work: string;
  let daemon: Daemon;
  let docker: Runner;
  let server: ServerProcess;
  let host: string;
  let v1: { id: string; digest: string };
  let v2: { id: string; digest: string };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'bl-docker-'));
    [daemon, server] = await Promise.all([startDaemon(DOCKER!.path, join(work, 'd')), startServer()]);
    host = server.hostPort;
    docker = runner(DOCKER!.path, () => daemon.env, () => server, 120_000);
  });

  afterAll(async () => {
    await daemon?.stop();
    await server?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const imageId = async (ref: string) => (await docker.ok(['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim();
  /** The pushed manifest as the registry serves it; its config is the image and its layers are there byte for byte. */
  const checkPushed = async (repo: string, tag: string, digest: string, id: string) => {
    const served = await fetchManifest(server, repo, tag);
    expect([served.status, served.type, served.digest]).toEqual([200, DOCKER_MANIFEST, digest]);
    expect(sha256(served.body)).toBe(digest);
    const doc = JSON.parse(served.body.toString()) as ManifestDoc;
    expect(doc.config.digest).toBe(id);
    for (const d of [doc.config, ...doc.layers]) expect(await fetchBlobDigest(server, repo, d.digest)).toEqual({ status: 200, digest: d.digest, size: d.size });
    return doc;
  };

  test('build FROM scratch, push, rmi, pull: the same image ID comes back', async () => {
    const dir = await context(join(work, 'app'), 'FROM scratch\nCOPY hello.txt /etc/hello.txt\nCOPY data.bin /opt/data.bin\n', {
      'hello.txt': 'hello from docker\n',
      'data.bin': randomBytes(512 * 1024),
    });
    await docker.ok(['build', '-q', '-t', `${host}/dk/app:v1`, dir]);
    const id = await imageId(`${host}/dk/app:v1`);
    const push = await docker.ok(['push', `${host}/dk/app:v1`]);
    v1 = { id, digest: pushedDigest(push) };
    const doc = await checkPushed('dk/app', 'v1', v1.digest, id);
    expect(doc.layers).toHaveLength(2);
    await docker.ok(['rmi', `${host}/dk/app:v1`]);
    expect((await docker.attempt(['image', 'inspect', id])).code).not.toBe(0);
    const pull = await docker.ok(['pull', `${host}/dk/app:v1`]);
    expect(pull.stdout).toContain(`Digest: ${v1.digest}`);
    expect(await imageId(`${host}/dk/app:v1`)).toBe(id);
  });

  test('a second image on the first: its shared layers already exist', async () => {
    const dir = await context(join(work, 'app2'), `FROM ${host}/dk/app:v1\nCOPY extra.txt /etc/extra.txt\n`, { 'extra.txt': 'one more layer\n' });
    await docker.ok(['build', '-q', '-t', `${host}/dk/app:v2`, dir]);
    const id = await imageId(`${host}/dk/app:v2`);
    const push = await docker.ok(['push', `${host}/dk/app:v2`]);
    expect(push.stdout.match(/Layer already exists/g)).toHaveLength(2);
    v2 = { id, digest: pushedDigest(push) };
    expect((await checkPushed('dk/app', 'v2', v2.digest, id)).layers).toHaveLength(3);
  });

  test('push into another repository mounts the layers; pull by digest', async () => {
    await docker.ok(['tag', `${host}/dk/app:v2`, `${host}/dk/other:v2`]);
    const push = await docker.ok(['push', `${host}/dk/other:v2`]);
    expect(push.stdout.match(/Mounted from dk\/app/g)).toHaveLength(3);
    expect(pushedDigest(push)).toBe(v2.digest);
    await checkPushed('dk/other', 'v2', v2.digest, v2.id);
    await docker.ok(['rmi', `${host}/dk/app:v2`, `${host}/dk/other:v2`]);
    expect((await docker.attempt(['image', 'inspect', v2.id])).code).not.toBe(0);
    await docker.ok(['pull', `${host}/dk/other@${v2.digest}`]);
    expect(await imageId(`${host}/dk/other@${v2.digest}`)).toBe(v2.id);
  });

  test('docker manifest inspect of a multi-platform index: the children are fetched by digest', async () => {
    // An OCI index over the two Docker images pushed above (their platforms are only labels here): docker parses all of it.
    const docs = await Promise.all([v1, v2].map(async (v) => ({ v, body: (await fetchManifest(server, 'dk/app', v.digest)).body })));
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: docs.map(({ v, body }, i) => ({ mediaType: DOCKER_MANIFEST, digest: v.digest, size: body.length, platform: { architecture: ['amd64', 'arm64'][i], os: 'linux' } })),
    });
    await putManifest(server, 'dk/app', 'multi', index, OCI_INDEX);
    const listed = JSON.parse((await docker.ok(['manifest', 'inspect', '--insecure', `${host}/dk/app:multi`])).stdout) as { mediaType: string; manifests: Array<{ digest: string }> };
    expect(listed.manifests.map((m) => m.digest)).toEqual([v1.digest, v2.digest]);
    const verbose = JSON.parse((await docker.ok(['manifest', 'inspect', '--insecure', '-v', `${host}/dk/app:multi`])).stdout) as Array<{
      Descriptor: { digest: string; platform: { architecture: string } };
      SchemaV2Manifest?: { config: { digest: string } };
    }>;
    expect(verbose.map((e) => [e.Descriptor.digest, e.Descriptor.platform.architecture, e.SchemaV2Manifest?.config.digest])).toEqual([
      [v1.digest, 'amd64', v1.id],
      [v2.digest, 'arm64', v2.id],
    ]);
  });

  test('an OCI child fetched by digest with an Accept that does not name OCI types is served as it is', async () => {
    // Docker 20.10's CLI asks for an index's children by digest with the Accept header of the
    // manifest types it knows; Debian's build knows no OCI image manifest. Bollard used to answer
    // 404 MANIFEST_UNKNOWN there; a digest names one content, so it is served with its own type.
    const layer = await putBlob(server, 'dk/oci', randomBytes(1024));
    const children: Array<{ digest: string; size: number; arch: string }> = [];
    for (const arch of ['amd64', 'arm64']) {
      const config = await putBlob(server, 'dk/oci', JSON.stringify({ architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] }, config: {} }));
      const body = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      });
      children.push({ digest: await putManifest(server, 'dk/oci', sha256(body), body, OCI_MANIFEST), size: body.length, arch });
    }
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: children.map((c) => ({ mediaType: OCI_MANIFEST, digest: c.digest, size: c.size, platform: { architecture: c.arch, os: 'linux' } })),
    });
    await putManifest(server, 'dk/oci', 'v1', index, OCI_INDEX);
    // docker talks to the registry through a recorder of what it asked and got
    const recorder = await recordingProxy(server);
    try {
      const r = await docker.attempt(['manifest', 'inspect', '--insecure', `${recorder.hostPort}/dk/oci:v1`]);
      const child = recorder.exchanges.find((e) => e.path === `/v2/dk/oci/manifests/${children[0]!.digest}`);
      expect(child, docker.why(r)).toBeDefined();
      expect(child!.accept).not.toContain(OCI_MANIFEST);
      expect([child!.status, child!.contentType, child!.digest]).toEqual([200, OCI_MANIFEST, children[0]!.digest]);
      if (r.code === 0) {
        expect((JSON.parse(r.stdout) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest)).toEqual(children.map((c) => c.digest));
      } else {
        // what is left is the client's own limit, not the registry's answer
        expect(r.stderr, docker.why(r)).toContain(`unsupported manifest media type and no default available: ${OCI_MANIFEST}`);
        expect(r.stderr).not.toMatch(/manifest unknown/i);
      }
    } finally {
      await recorder.close();
    }
  });

  test.skipIf(!BIG_LAYER)('a 64 MB layer goes up and comes back (filesystem driver only)', async () => {
    const dir = join(work, 'big');
    await mkdir(dir, { recursive: true });
    await randomFile(join(dir, 'big.bin'), 64 << 20);
    await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY big.bin /big.bin\n');
    await docker.ok(['build', '-q', '-t', `${host}/dk/big:v1`, dir]);
    const id = await imageId(`${host}/dk/big:v1`);
    const digest = pushedDigest(await docker.ok(['push', `${host}/dk/big:v1`]));
    const doc = await checkPushed('dk/big', 'v1', digest, id);
    expect(doc.layers).toHaveLength(1);
    expect(doc.layers[0]!.size).toBeGreaterThan(64 << 20);
    await docker.ok(['rmi', `${host}/dk/big:v1`]);
    await docker.ok(['pull', `${host}/dk/big:v1`]);
    expect(await imageId(`${host}/dk/big:v1`)).toBe(id);
  });
});

describe.skipIf(!DOCKER || !DAEMON || !ROOT)(`docker login with token auth (${DOCKER?.version})`, () => {
  const PASSWORD = 'docker-e2e-password-1';
  let work: string;
  let daemon: Daemon;
  let docker: Runner;
  let server: ServerProcess;
  let host: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'bl-docker-tok-'));
    [daemon, server] = await Promise.all([startDaemon(DOCKER!.path, join(work, 'd')), startServer({ env: { BOLLARD_AUTH: 'token', BOLLARD_ADMIN_PASSWORD: 'e2e-admin-password-1' } })]);
    host = server.hostPort;
    const env = { ...process.env, DATABASE_URL: server.databaseUrl, BOLLARD_DATA_DIR: server.dataDir, BOLLARD_USER_PASSWORD: PASSWORD };
    const cli = (...args: string[]) => promisify(execFile)(process.execPath, [BIN, ...args], { env });
    await cli('users', 'add', 'dora');
    await cli('grants', 'add', 'dora', 'dora/**', 'pull,push');
    docker = runner(DOCKER!.path, () => daemon.env, () => server, 120_000);
  });

  afterAll(async () => {
    await daemon?.stop();
    await server?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('refused without login and with a wrong password; login, push, rmi, pull; logout refuses again', async () => {
    const dir = await context(join(work, 'tok'), 'FROM scratch\nCOPY token.txt /token.txt\n', { 'token.txt': 'pushed through a token\n' });
    await docker.ok(['build', '-q', '-t', `${host}/dora/app:v1`, dir]);
    const id = (await docker.ok(['image', 'inspect', '--format', '{{.Id}}', `${host}/dora/app:v1`])).stdout.trim();
    refused(await docker.attempt(['push', `${host}/dora/app:v1`]));
    refused(await docker.attempt(['login', '-u', 'dora', '--password-stdin', host], { input: 'not-the-password' }));
    const login = await docker.ok(['login', '-u', 'dora', '--password-stdin', host], { input: PASSWORD });
    expect(login.stdout).toContain('Login Succeeded');
    const push = await docker.ok(['push', `${host}/dora/app:v1`]);
    const digest = pushedDigest(push);
    await docker.ok(['tag', `${host}/dora/app:v1`, `${host}/elsewhere/app:v1`]);
    refused(await docker.attempt(['push', `${host}/elsewhere/app:v1`]));
    await docker.ok(['rmi', `${host}/dora/app:v1`, `${host}/elsewhere/app:v1`]);
    const pull = await docker.ok(['pull', `${host}/dora/app:v1`]);
    expect(pull.stdout).toContain(`Digest: ${digest}`);
    expect((await docker.ok(['image', 'inspect', '--format', '{{.Id}}', `${host}/dora/app:v1`])).stdout.trim()).toBe(id);
    await docker.ok(['logout', host]);
    await docker.ok(['rmi', `${host}/dora/app:v1`]);
    refused(await docker.attempt(['pull', `${host}/dora/app:v1`]));
    expect(server.output()).not.toContain(PASSWORD);
  });
});
