// End-to-end: oras (Debian trixie's 1.2.0, from scripts/clients/install-oras.sh)
// against a `bollard serve` process that starts empty: artifacts with an
// artifactType, referrers (attach, discover, copy -r), listings, tags, blobs,
// deletes, and the same through token auth (oras login). Every digest and every
// byte that comes back is checked against what the test wrote.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type ServerProcess } from '../support/server.ts';
import { fetchManifest, findClient, missingClient, refused, runner, type Runner } from './clients.ts';
import { sha256 } from './oci-layout.ts';

const ORAS = await findClient('oras', ['version'], { version: /Version:\s+1\./ });
if (!ORAS) missingClient('test/e2e/oras.test.ts', 'oras', 'bash scripts/clients/install-oras.sh');

const BIN = fileURLToPath(new URL('../../bin/bollard.js', import.meta.url));
const ARTIFACT = 'application/vnd.bollard.e2e.bundle.v1';
const SIGNATURE = 'application/vnd.bollard.e2e.signature.v1';
const SBOM = 'application/vnd.bollard.e2e.sbom.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const EMPTY_CONFIG = 'application/vnd.oci.empty.v1+json';

interface ManifestDoc {
  mediaType: string;
  artifactType?: string;
  config: { mediaType: string; digest: string; size: number };
  layers: Array<{ mediaType: string; digest: string; size: number; annotations?: Record<string, string> }>;
  subject?: { digest: string };
}

interface Referrers {
  manifests: Array<{ digest: string; artifactType?: string; mediaType: string }>;
}

/** The files an artifact is pushed from, in its own directory (oras names layers by path). */
async function files(dir: string, entries: Record<string, Buffer | string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, data] of Object.entries(entries)) await writeFile(join(dir, name), data);
}

describe.skipIf(!ORAS)(`oras (${ORAS?.version}) against bollard serve`, () => {
  let server: ServerProcess;
  let work: string;
  let oras: Runner;
  let host: string;
  const plain = ['--plain-http', '--no-tty'];
  const readme = 'the bundle that oras pushed\n'.repeat(20);
  const data = randomBytes(300 * 1024);
  let pushed: { digest: string; bytes: Buffer };
  let signature: string;
  let sbom: string;

  beforeAll(async () => {
    // A small page size, so that repo ls and repo tags must follow the Link header.
    server = await startServer({ env: { BOLLARD_PAGE_SIZE_MAX: '2' } });
    host = server.hostPort;
    work = await mkdtemp(join(tmpdir(), 'bollard-e2e-oras-'));
    await mkdir(join(work, 'home'), { recursive: true });
    const env = { PATH: process.env.PATH, HOME: join(work, 'home'), DOCKER_CONFIG: join(work, 'home', '.docker') };
    oras = runner(ORAS!.path, () => env, () => server);
    await files(join(work, 'bundle'), { 'readme.txt': readme, 'data.bin': data });
    await files(join(work, 'sig'), { 'sig.txt': 'signed by the e2e test\n' });
    await files(join(work, 'sbom'), { 'sbom.json': JSON.stringify({ packages: ['bollard'] }) });
  });

  afterAll(async () => {
    await server?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const push = async (dir: string, args: string[]) => {
    const exported = join(work, `${dir}-manifest.json`);
    const r = await runIn(dir, ['push', ...plain, '--export-manifest', exported, ...args]);
    const bytes = await readFile(exported);
    return { r, bytes, digest: sha256(bytes) };
  };
  // oras takes file operands relative to its working directory.
  const runIn = (dir: string, args: string[]) => oras.ok(args, { cwd: join(work, dir) });

  test('push an artifact with an artifactType; manifest fetch returns its bytes', async () => {
    const { r, bytes, digest } = await push('bundle', ['--artifact-type', ARTIFACT, '--annotation', 'org.example.kind=bundle', `${host}/art/bundle:v1`, 'readme.txt:text/plain', 'data.bin:application/octet-stream']);
    expect(r.stdout).toContain(digest);
    pushed = { digest, bytes };
    const doc = JSON.parse(bytes.toString()) as ManifestDoc;
    expect(doc.mediaType).toBe(OCI_MANIFEST);
    expect(doc.artifactType).toBe(ARTIFACT);
    expect(doc.config.mediaType).toBe(EMPTY_CONFIG);
    expect(doc.layers.map((l) => [l.annotations?.['org.opencontainers.image.title'], l.digest, l.size])).toEqual([
      ['readme.txt', sha256(readme), readme.length],
      ['data.bin', sha256(data), data.length],
    ]);
    const fetched = await oras.ok(['manifest', 'fetch', ...plain, `${host}/art/bundle:v1`]);
    expect(sha256(fetched.stdout)).toBe(digest);
    const desc = JSON.parse((await oras.ok(['manifest', 'fetch', ...plain, '--descriptor', `${host}/art/bundle@${digest}`])).stdout) as { digest: string; size: number; mediaType: string; artifactType?: string };
    expect(desc).toMatchObject({ digest, size: bytes.length, mediaType: OCI_MANIFEST });
    const served = await fetchManifest(server, 'art/bundle', 'v1');
    expect([served.status, served.type, served.digest]).toEqual([200, OCI_MANIFEST, digest]);
    expect(served.body.equals(bytes)).toBe(true);
  });

  test('attach a signature and an SBOM; discover lists them by artifactType', async () => {
    const sig = await runIn('sig', ['attach', ...plain, '--artifact-type', SIGNATURE, '--export-manifest', join(work, 'sig.json'), `${host}/art/bundle:v1`, 'sig.txt:text/plain']);
    const sigBytes = await readFile(join(work, 'sig.json'));
    signature = sha256(sigBytes);
    expect(sig.stdout).toContain(signature);
    expect((JSON.parse(sigBytes.toString()) as ManifestDoc).subject?.digest).toBe(pushed.digest);
    await runIn('sbom', ['attach', ...plain, '--artifact-type', SBOM, '--export-manifest', join(work, 'sbom.json'), `${host}/art/bundle@${pushed.digest}`, 'sbom.json:application/json']);
    sbom = sha256(await readFile(join(work, 'sbom.json')));
    const found = JSON.parse((await oras.ok(['discover', ...plain, '--format', 'json', `${host}/art/bundle:v1`])).stdout) as Referrers;
    expect(found.manifests.map((m) => [m.digest, m.artifactType]).sort()).toEqual([[signature, SIGNATURE], [sbom, SBOM]].sort());
    const filtered = JSON.parse((await oras.ok(['discover', ...plain, '--format', 'json', '--artifact-type', SBOM, `${host}/art/bundle:v1`])).stdout) as Referrers;
    expect(filtered.manifests.map((m) => m.digest)).toEqual([sbom]);
    // the registry's own referrers listing agrees
    const api = await fetch(`${server.url}/v2/art/bundle/referrers/${pushed.digest}`);
    expect([api.status, api.headers.get('content-type')]).toEqual([200, OCI_INDEX]);
    expect(((await api.json()) as Referrers).manifests.map((m) => m.digest).sort()).toEqual([signature, sbom].sort());
  });

  test('pull writes back the very files that were pushed', async () => {
    const out = join(work, 'pulled');
    await oras.ok(['pull', ...plain, '-o', out, `${host}/art/bundle:v1`]);
    expect(await readFile(join(out, 'readme.txt'), 'utf8')).toBe(readme);
    expect((await readFile(join(out, 'data.bin'))).equals(data)).toBe(true);
  });

  test('copy -r brings the referrers along into another repository', async () => {
    await oras.ok(['cp', '-r', '--from-plain-http', '--to-plain-http', '--no-tty', `${host}/art/bundle:v1`, `${host}/art/copy:v1`]);
    const copied = await fetchManifest(server, 'art/copy', 'v1');
    expect(copied.digest).toBe(pushed.digest);
    expect(copied.body.equals(pushed.bytes)).toBe(true);
    const found = JSON.parse((await oras.ok(['discover', ...plain, '--format', 'json', `${host}/art/copy:v1`])).stdout) as Referrers;
    expect(found.manifests.map((m) => m.digest).sort()).toEqual([signature, sbom].sort());
    for (const d of [signature, sbom]) expect((await fetchManifest(server, 'art/copy', d)).status).toBe(200);
  });

  test('tag, then repo tags and repo ls, across pages of two', async () => {
    await oras.ok(['tag', ...plain, `${host}/art/bundle:v1`, 'v2', 'v3', 'latest']);
    for (const t of ['v2', 'v3', 'latest']) expect((await fetchManifest(server, 'art/bundle', t)).digest).toBe(pushed.digest);
    const tags = (await oras.ok(['repo', 'tags', ...plain, `${host}/art/bundle`])).stdout.trim().split('\n');
    expect(tags.sort()).toEqual(['latest', 'v1', 'v2', 'v3']);
    await push('sig', [`${host}/other/thing:v1`, 'sig.txt']);
    const repos = (await oras.ok(['repo', 'ls', ...plain, host])).stdout.trim().split('\n');
    expect(repos.sort()).toEqual(['art/bundle', 'art/copy', 'other/thing']);
    const namespaced = (await oras.ok(['repo', 'ls', ...plain, `${host}/art`])).stdout.trim().split('\n');
    expect(namespaced.sort()).toEqual(['bundle', 'copy']);
  });

  test('blob fetch streams a layer byte for byte', async () => {
    const out = join(work, 'blob.bin');
    await oras.ok(['blob', 'fetch', ...plain, '--output', out, `${host}/art/bundle@${sha256(data)}`]);
    expect((await readFile(out)).equals(data)).toBe(true);
    const stdout = await oras.ok(['blob', 'fetch', ...plain, '--output', '-', `${host}/art/bundle@${sha256(readme)}`]);
    expect(stdout.stdout).toBe(readme);
  });

  test('blob delete of a layer the artifact lists is refused, and oras prints why', async () => {
    const refused = await oras.attempt(['blob', 'delete', ...plain, '--force', `${host}/art/bundle@${sha256(data)}`]);
    expect(refused.code, oras.why(refused)).not.toBe(0);
    expect(refused.stderr).toContain(`blob ${sha256(data)} is referenced by 1 manifest(s) in art/bundle; delete them first`);
    expect(refused.stderr.split('delete them first').length).toBe(2);
    const out = join(work, 'still.bin');
    await oras.ok(['blob', 'fetch', ...plain, '--output', out, `${host}/art/bundle@${sha256(data)}`]);
    expect((await readFile(out)).equals(data)).toBe(true);
  });

  test('manifest delete removes a referrer and then the artifact', async () => {
    await oras.ok(['manifest', 'delete', ...plain, '--force', `${host}/art/copy@${signature}`]);
    expect((await fetchManifest(server, 'art/copy', signature)).status).toBe(404);
    const left = JSON.parse((await oras.ok(['discover', ...plain, '--format', 'json', `${host}/art/copy:v1`])).stdout) as Referrers;
    expect(left.manifests.map((m) => m.digest)).toEqual([sbom]);
    await oras.ok(['manifest', 'delete', ...plain, '--force', `${host}/art/copy@${pushed.digest}`]);
    expect((await fetchManifest(server, 'art/copy', 'v1')).status).toBe(404);
    const gone = await oras.attempt(['manifest', 'fetch', ...plain, `${host}/art/copy@${pushed.digest}`]);
    expect(gone.code, oras.why(gone)).not.toBe(0);
    expect(gone.stderr).toMatch(/not found/i);
    // the original is untouched
    expect((await fetchManifest(server, 'art/bundle', 'v1')).digest).toBe(pushed.digest);
  });
});

describe.skipIf(!ORAS)(`oras with token auth (${ORAS?.version})`, () => {
  const PASSWORD = 'oras-e2e-password-1';
  let server: ServerProcess;
  let work: string;
  let oras: Runner;
  let host: string;
  let config: string;
  const plain = ['--plain-http', '--no-tty'];

  beforeAll(async () => {
    server = await startServer({ env: { BOLLARD_AUTH: 'token', BOLLARD_ADMIN_PASSWORD: 'e2e-admin-password-1' } });
    host = server.hostPort;
    const env = { ...process.env, DATABASE_URL: server.databaseUrl, BOLLARD_DATA_DIR: server.dataDir, BOLLARD_USER_PASSWORD: PASSWORD };
    const cli = (...args: string[]) => promisify(execFile)(process.execPath, [BIN, ...args], { env });
    await cli('users', 'add', 'olga');
    await cli('grants', 'add', 'olga', 'olga/**', 'pull,push,delete');
    work = await mkdtemp(join(tmpdir(), 'bollard-e2e-oras-tok-'));
    await files(join(work, 'files'), { 'a.txt': 'through a token\n' });
    config = join(work, 'auth.json');
    const orasEnv = { PATH: process.env.PATH, HOME: work, DOCKER_CONFIG: join(work, '.docker') };
    oras = runner(ORAS!.path, () => orasEnv, () => server);
  });

  afterAll(async () => {
    await server?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('anonymous push is refused; a wrong password is refused', async () => {
    refused(await oras.attempt(['push', ...plain, '--registry-config', config, `${host}/olga/art:v1`, 'a.txt'], { cwd: join(work, 'files') }));
    refused(await oras.attempt(['login', ...plain, '--registry-config', config, '-u', 'olga', '-p', 'not-the-password', host]));
  });

  test('oras login, then push, attach, discover, pull, delete; logout refuses again', async () => {
    const cfg = ['--registry-config', config];
    await oras.ok(['login', ...plain, ...cfg, '-u', 'olga', '--password-stdin', host], { input: PASSWORD });
    const dir = join(work, 'files');
    await oras.ok(['push', ...plain, ...cfg, '--artifact-type', ARTIFACT, '--export-manifest', join(work, 'm.json'), `${host}/olga/art:v1`, 'a.txt'], { cwd: dir });
    const digest = sha256(await readFile(join(work, 'm.json')));
    await oras.ok(['attach', ...plain, ...cfg, '--artifact-type', SIGNATURE, `${host}/olga/art:v1`, 'a.txt'], { cwd: dir });
    const found = JSON.parse((await oras.ok(['discover', ...plain, ...cfg, '--format', 'json', `${host}/olga/art@${digest}`])).stdout) as Referrers;
    expect(found.manifests.map((m) => m.artifactType)).toEqual([SIGNATURE]);
    const out = join(work, 'out');
    await oras.ok(['pull', ...plain, ...cfg, '-o', out, `${host}/olga/art:v1`]);
    expect(await readFile(join(out, 'a.txt'), 'utf8')).toBe('through a token\n');
    const fetched = await oras.ok(['manifest', 'fetch', ...plain, ...cfg, `${host}/olga/art:v1`]);
    expect(sha256(fetched.stdout)).toBe(digest);
    // outside the grant
    refused(await oras.attempt(['push', ...plain, ...cfg, `${host}/someone/art:v1`, 'a.txt'], { cwd: dir }));
    await oras.ok(['manifest', 'delete', ...plain, ...cfg, '--force', `${host}/olga/art@${found.manifests[0]!.digest}`]);
    await oras.ok(['logout', ...cfg, host]);
    refused(await oras.attempt(['manifest', 'fetch', ...plain, ...cfg, `${host}/olga/art:v1`]));
    expect(server.output()).not.toContain(PASSWORD);
  });
});
