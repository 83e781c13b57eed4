// End-to-end: crane (go-containerregistry 0.20.1, built offline from Debian
// trixie's sources by scripts/clients/install-crane.sh) against a `bollard serve`
// process that starts empty: append, digest, validate --remote, copy across
// repositories, ls past one page of tags, catalog, tag, delete by tag and by
// digest, index append and mutate --set-platform. Digests and bytes that come
// back are checked against the layers the test wrote.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type ServerProcess } from '../support/server.ts';
import { fetchBlobDigest, fetchManifest, findClient, missingClient, runner, type Runner } from './clients.ts';
import { writeTar } from './containers-sandbox.ts';
import { sha256, sha256File } from './oci-layout.ts';

const CRANE = await findClient('crane', ['version'], { version: /^v?0\.\d+/ });
if (!CRANE) missingClient('test/e2e/crane.test.ts', 'crane', 'bash scripts/clients/install-crane.sh');

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const PAGE = 5;

interface ManifestDoc {
  mediaType: string;
  config: { digest: string; size: number };
  layers: Array<{ mediaType: string; digest: string; size: number }>;
}
interface IndexDoc {
  mediaType: string;
  manifests: Array<{ digest: string; platform?: { os: string; architecture: string } }>;
}
interface ConfigDoc {
  os?: string;
  architecture?: string;
  rootfs: { diff_ids: string[] };
}

describe.skipIf(!CRANE)(`crane (${CRANE?.version}) against bollard serve`, () => {
  let server: ServerProcess;
  let work: string;
  let crane: Runner;
  let host: string;
  let base: { path: string; diffId: string };
  let second: { path: string; diffId: string };
  let v1: string;
  let v2: string;
  let amd: string;
  let arm: string;
  const k = ['--insecure'];

  beforeAll(async () => {
    // A page of five tags, so that crane ls must follow the Link header.
    server = await startServer({ env: { BOLLARD_PAGE_SIZE_MAX: String(PAGE) } });
    host = server.hostPort;
    work = await mkdtemp(join(tmpdir(), 'bollard-e2e-crane-'));
    crane = runner(CRANE!.path, () => ({ PATH: process.env.PATH, HOME: work, DOCKER_CONFIG: join(work, '.docker') }), () => server);
    const tar = async (name: string, entries: Parameters<typeof writeTar>[1]) => {
      const path = join(work, name);
      await writeTar(path, entries);
      return { path, diffId: (await sha256File(path)).digest };
    };
    base = await tar('base.tar', [{ path: 'etc/' }, { path: 'etc/crane-e2e.txt', data: 'the base layer\n' }, { path: 'opt/base.bin', randomSize: 256 * 1024 }]);
    second = await tar('second.tar', [{ path: 'srv/' }, { path: 'srv/second.bin', randomSize: 96 * 1024 }]);
  });

  afterAll(async () => {
    await server?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const manifest = async (ref: string) => {
    const r = await crane.ok(['manifest', ...k, ref]);
    return { bytes: r.stdout, digest: sha256(r.stdout) };
  };
  const digestOf = async (ref: string) => (await crane.ok(['digest', ...k, ref])).stdout.trim();

  test('append onto an empty base, then onto that image; digest and the blobs agree with the tars', async () => {
    const first = await crane.ok(['append', ...k, '--oci-empty-base', '--platform', 'linux/amd64', '-f', base.path, '-t', `${host}/cr/app:v1`]);
    v1 = await digestOf(`${host}/cr/app:v1`);
    expect(first.stdout.trim()).toBe(`${host}/cr/app@${v1}`);
    const m1 = await manifest(`${host}/cr/app:v1`);
    expect(m1.digest).toBe(v1);
    const served = await fetchManifest(server, 'cr/app', 'v1');
    expect([served.status, served.type, served.digest]).toEqual([200, OCI_MANIFEST, v1]);
    expect(served.body.toString()).toBe(m1.bytes);

    await crane.ok(['append', ...k, '-b', `${host}/cr/app:v1`, '-f', second.path, '-t', `${host}/cr/app:v2`]);
    v2 = await digestOf(`${host}/cr/app:v2`);
    const doc = JSON.parse((await manifest(`${host}/cr/app:v2`)).bytes) as ManifestDoc;
    expect(doc.layers).toHaveLength(2);
    expect(doc.layers[0]).toEqual((JSON.parse(m1.bytes) as ManifestDoc).layers[0]);
    const config = JSON.parse((await crane.ok(['config', ...k, `${host}/cr/app:v2`])).stdout) as ConfigDoc;
    // the uncompressed layers are the tars the test wrote, in order
    expect(config.rootfs.diff_ids).toEqual([base.diffId, second.diffId]);
    expect(sha256((await crane.ok(['config', ...k, `${host}/cr/app:v2`])).stdout)).toBe(doc.config.digest);
    for (const layer of doc.layers) {
      expect(await fetchBlobDigest(server, 'cr/app', layer.digest)).toEqual({ status: 200, digest: layer.digest, size: layer.size });
    }
  });

  test('validate --remote reads every layer back and passes', async () => {
    for (const ref of ['v1', 'v2']) {
      const r = await crane.ok(['validate', ...k, '--remote', `${host}/cr/app:${ref}`]);
      expect(r.stdout).toMatch(/^PASS/m);
    }
  });

  test('copy into another repository keeps the digest and the bytes', async () => {
    await crane.ok(['copy', ...k, `${host}/cr/app:v2`, `${host}/cr/copy:v2`]);
    expect(await digestOf(`${host}/cr/copy:v2`)).toBe(v2);
    expect((await fetchManifest(server, 'cr/copy', 'v2')).body.equals((await fetchManifest(server, 'cr/app', 'v2')).body)).toBe(true);
    const doc = JSON.parse((await fetchManifest(server, 'cr/copy', v2)).body.toString()) as ManifestDoc;
    for (const layer of doc.layers) expect((await fetchBlobDigest(server, 'cr/copy', layer.digest)).digest).toBe(layer.digest);
  });

  test('mutate --set-platform, then index append of both platforms', async () => {
    // the image appended onto an empty base names no platform; give it one, and a second one
    const platformed: Record<string, string> = {};
    for (const arch of ['amd64', 'arm64']) {
      await crane.ok(['mutate', ...k, '--set-platform', `linux/${arch}`, '-t', `${host}/cr/app:${arch}`, `${host}/cr/app:v1`]);
      platformed[arch] = await digestOf(`${host}/cr/app:${arch}`);
      const config = JSON.parse((await crane.ok(['config', ...k, `${host}/cr/app:${arch}`])).stdout) as ConfigDoc;
      expect([config.os, config.architecture]).toEqual(['linux', arch]);
      expect(config.rootfs.diff_ids).toEqual([base.diffId]);
    }
    amd = platformed['amd64']!;
    arm = platformed['arm64']!;
    expect(new Set([v1, amd, arm]).size).toBe(3);

    await crane.ok(['index', 'append', ...k, '-m', `${host}/cr/app:amd64`, '-m', `${host}/cr/app:arm64`, '-t', `${host}/cr/app:multi`]);
    const served = await fetchManifest(server, 'cr/app', 'multi');
    expect([served.status, served.type]).toEqual([200, OCI_INDEX]);
    const index = JSON.parse(served.body.toString()) as IndexDoc;
    expect(index.manifests.map((m) => [m.digest, m.platform?.os, m.platform?.architecture])).toEqual([
      [amd, 'linux', 'amd64'],
      [arm, 'linux', 'arm64'],
    ]);
    expect(await digestOf(`${host}/cr/app:multi`)).toBe(served.digest);
    expect((await crane.ok(['digest', ...k, '--platform', 'linux/arm64', `${host}/cr/app:multi`])).stdout.trim()).toBe(arm);
  });

  test('deleting a platform the index lists is refused, and crane prints why', async () => {
    const refused = await crane.attempt(['delete', ...k, `${host}/cr/app@${arm}`]);
    expect(refused.code, crane.why(refused)).not.toBe(0);
    // the code and the message, once: the reason and what to do
    expect(refused.stderr).toContain(`UNSUPPORTED: manifest ${arm} is listed by index`);
    expect(refused.stderr).toContain('delete the index first');
    expect(refused.stderr.split('delete the index first').length).toBe(2);
    expect(await digestOf(`${host}/cr/app@${arm}`)).toBe(arm);
  });

  test(`tag, then ls past one page of ${PAGE} tags, and catalog past one page of repositories`, async () => {
    const extra = Array.from({ length: 12 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    for (const t of extra) await crane.ok(['tag', ...k, `${host}/cr/app:v1`, t]);
    for (const t of ['t00', 't11']) expect((await fetchManifest(server, 'cr/app', t)).digest).toBe(v1);
    const tags = (await crane.ok(['ls', ...k, `${host}/cr/app`])).stdout.trim().split('\n');
    expect(tags.sort()).toEqual(['amd64', 'arm64', 'multi', ...extra, 'v1', 'v2'].sort());
    expect(tags.length).toBeGreaterThan(PAGE * 3);
    // more repositories than a page holds: the catalog pages too
    const more = ['cr/r1', 'cr/r2', 'cr/r3', 'cr/r4', 'zz/last'];
    for (const r of more) await crane.ok(['copy', ...k, `${host}/cr/app:v1`, `${host}/${r}:v1`]);
    const repos = (await crane.ok(['catalog', ...k, host])).stdout.trim().split('\n');
    expect(repos.sort()).toEqual(['cr/app', 'cr/copy', ...more].sort());
    expect(repos.length).toBeGreaterThan(PAGE);
  });

  test('delete by tag removes the tag only; delete by digest removes the manifest', async () => {
    await crane.ok(['delete', ...k, `${host}/cr/app:t00`]);
    expect((await fetchManifest(server, 'cr/app', 't00')).status).toBe(404);
    expect(await digestOf(`${host}/cr/app:v1`)).toBe(v1);
    expect((await crane.ok(['ls', ...k, `${host}/cr/app`])).stdout.split('\n')).not.toContain('t00');

    await crane.ok(['delete', ...k, `${host}/cr/copy@${v2}`]);
    expect((await fetchManifest(server, 'cr/copy', v2)).status).toBe(404);
    expect((await fetchManifest(server, 'cr/copy', 'v2')).status).toBe(404);
    const gone = await crane.attempt(['digest', ...k, `${host}/cr/copy:v2`]);
    expect(gone.code, crane.why(gone)).not.toBe(0);
    expect(gone.stderr).toMatch(/MANIFEST_UNKNOWN|not found/i);
    // the same manifest in the first repository is untouched
    expect(await digestOf(`${host}/cr/app:v2`)).toBe(v2);
  });
});
