// End-to-end: buildah builds an image from scratch, pushes it to a `bollard serve`
// process as an OCI manifest and as a Docker v2 schema 2 manifest, then buildah
// and podman pull it into fresh image stores. Every digest the tools report must
// match the bytes the registry serves, and the files must come back intact.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type ServerProcess } from '../support/server.ts';
import { OCI_LAYER_GZIP, OCI_MANIFEST, sha256, type ManifestDoc } from './oci-layout.ts';
import { createSandbox, getManifest, lastLine, listTags, requireTools, tools, type Sandbox, type Tools } from './containers-sandbox.ts';

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const LABEL = 'org.example.bollard.e2e';
const ENTRYPOINT = ['/app/bin/hello', '--greet'];

const VERSIONS = await requireTools('test/e2e/buildah.test.ts', ['buildah', 'podman', 'skopeo']);

/** The build context: path under /app → content. */
const FILES: Record<string, Buffer> = {
  'hello.txt': Buffer.from('hello from a buildah image pushed to bollard\n'),
  'bin/hello': Buffer.from('#!/bin/sh\necho hello\n'),
  'etc/settings.json': Buffer.from(JSON.stringify({ registry: 'bollard', layers: 1 })),
  'data/random.bin': randomBytes(192 * 1024),
};

interface Pushed {
  digest: string;
  manifest: ManifestDoc;
}

describe.skipIf(!VERSIONS)(`buildah and podman (${VERSIONS?.buildah}, ${VERSIONS?.podman}) against bollard serve`, () => {
  let server: ServerProcess;
  let sandbox: Sandbox;
  let t: Tools;
  let imageId: string;
  let oci: Pushed;
  let v2s2: Pushed;
  const repo = 'e2e/buildah';
  const ref = (tagOrDigest: string) => `${server.hostPort}/${repo}${tagOrDigest.startsWith('sha256:') ? '@' : ':'}${tagOrDigest}`;

  beforeAll(async () => {
    server = await startServer();
    sandbox = await createSandbox('bl-buildah-', server.hostPort);
    t = tools(sandbox, () => server);
    const context = join(sandbox.dir, 'context');
    for (const [path, data] of Object.entries(FILES)) {
      await mkdir(join(context, path, '..'), { recursive: true });
      await writeFile(join(context, path), data, { mode: path.startsWith('bin/') ? 0o755 : 0o644 });
    }
  });

  afterAll(async () => {
    await server?.destroy();
    await sandbox?.remove();
  });

  test('1. buildah from scratch, copy, config, commit', async () => {
    const sig = ['--signature-policy', sandbox.policy];
    const ctr = lastLine(await t.ok('buildah', 'build', ['from', ...sig, '--name', 'e2e-build', 'scratch']));
    expect(ctr).toBe('e2e-build');
    await t.ok('buildah', 'build', ['copy', ctr, join(sandbox.dir, 'context'), '/app']);
    await t.ok('buildah', 'build', [
      'config',
      '--entrypoint',
      JSON.stringify(ENTRYPOINT),
      '--label',
      `${LABEL}=buildah`,
      '--label',
      'org.opencontainers.image.title=bollard-e2e',
      '--workingdir',
      '/app',
      ctr,
    ]);
    imageId = lastLine(await t.ok('buildah', 'build', ['commit', ...sig, '--format', 'oci', ctr, 'localhost/e2e/built:v1']));
    expect(imageId).toMatch(/^[a-f0-9]{64}$/);
  });

  async function push(format: 'oci' | 'docker', tag: string): Promise<Pushed> {
    const digestFile = join(sandbox.dir, `digest-${tag}`);
    await t.ok('buildah', 'build', [
      'push',
      '--signature-policy',
      sandbox.policy,
      '--tls-verify=false',
      '--format',
      format,
      '--digestfile',
      digestFile,
      'localhost/e2e/built:v1',
      `docker://${ref(tag)}`,
    ]);
    const digest = await t.digestFile(digestFile);
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    // What a client gets back by tag and by digest is exactly what buildah pushed.
    const raw = await t.inspectRaw(`${repo}:${tag}`);
    expect(sha256(raw), `sha256 of \`skopeo inspect --raw ${repo}:${tag}\` vs buildah --digestfile`).toBe(digest);
    expect(sha256(await t.inspectRaw(`${repo}@${digest}`))).toBe(digest);
    const manifest = JSON.parse(raw.toString()) as ManifestDoc;
    const http = await getManifest(server, repo, tag);
    expect(http.status, http.body.toString()).toBe(200);
    expect(http.headerDigest, 'Docker-Content-Digest').toBe(digest);
    expect(http.contentType?.split(';')[0], 'Content-Type').toBe(manifest.mediaType);
    expect(http.body.equals(raw)).toBe(true);
    return { digest, manifest };
  }

  test('2. buildah push --format oci and --format docker, digests match skopeo inspect --raw', async () => {
    oci = await push('oci', 'oci');
    expect(oci.manifest.mediaType).toBe(OCI_MANIFEST);
    expect(oci.manifest.layers.map((l) => l.mediaType)).toEqual([OCI_LAYER_GZIP]);
    // An image ID is the digest of its config: the OCI push carries the committed config as is.
    expect(oci.manifest.config.digest).toBe(`sha256:${imageId}`);

    v2s2 = await push('docker', 'v2s2');
    expect(v2s2.manifest.mediaType).toBe(DOCKER_MANIFEST);
    expect(v2s2.manifest.config.mediaType).toBe('application/vnd.docker.container.image.v1+json');
    expect(v2s2.manifest.layers.map((l) => l.mediaType)).toEqual([DOCKER_LAYER_GZIP]);
    expect(v2s2.digest).not.toBe(oci.digest);

    const tags = await listTags(server, repo);
    expect(tags, tags.text).toMatchObject({ status: 200, name: repo, tags: ['oci', 'v2s2'] });
  });

  test('3. buildah pull into a fresh store: same image ID, digest and files', async () => {
    const store = 'buildah';
    const pulled = await t.ok('buildah', store, ['pull', '--signature-policy', sandbox.policy, '--tls-verify=false', ref('oci')]);
    expect(lastLine(pulled), t.why(pulled)).toBe(imageId);
    const images = JSON.parse((await t.ok('buildah', store, ['images', '--json', '--digests'])).stdout) as Array<{ id: string; names: string[]; digest: string }>;
    expect(images.map((i) => ({ names: i.names, digest: i.digest }))).toEqual([{ names: [ref('oci')], digest: oci.digest }]);

    // Read the files back from the pulled layer: with vfs, `buildah mount` is a plain directory.
    const ctr = lastLine(await t.ok('buildah', store, ['from', '--signature-policy', sandbox.policy, '--pull=never', '--name', 'e2e-check', ref('oci')]));
    const mount = lastLine(await t.ok('buildah', store, ['mount', ctr]));
    try {
      for (const [path, data] of Object.entries(FILES)) {
        const back = await readFile(join(mount, 'app', path));
        expect(sha256(back), `/app/${path} in the pulled image`).toBe(sha256(data));
      }
    } finally {
      await t.ok('buildah', store, ['umount', ctr]);
      await t.ok('buildah', store, ['rm', ctr]);
    }
  });

  test('4. podman pull (v2s2 by tag, OCI by digest) into a fresh store', async () => {
    const store = 'podman';
    const byTag = await t.ok('podman', store, ['pull', '--signature-policy', sandbox.policy, '--tls-verify=false', ref('v2s2')]);
    const v2s2Id = lastLine(byTag);
    expect(`sha256:${v2s2Id}`, t.why(byTag)).toBe(v2s2.manifest.config.digest);

    const byDigest = await t.ok('podman', store, ['pull', '--signature-policy', sandbox.policy, '--tls-verify=false', ref(oci.digest)]);
    expect(lastLine(byDigest), t.why(byDigest)).toBe(imageId);

    // Converting to v2s2 keeps the config bytes, so both pulls may land on one local
    // image, which then records both manifest digests.
    for (const [id, pushed] of [
      [v2s2Id, v2s2],
      [imageId, oci],
    ] as const) {
      const r = await t.ok('podman', store, ['image', 'inspect', id]);
      const [info] = JSON.parse(r.stdout) as Array<{
        Digest: string;
        RepoDigests: string[];
        Config: { Entrypoint?: string[]; Labels?: Record<string, string>; WorkingDir?: string };
      }>;
      expect(info?.RepoDigests, t.why(r)).toContain(`${server.hostPort}/${repo}@${pushed.digest}`);
      expect([oci.digest, v2s2.digest], t.why(r)).toContain(info?.Digest);
      expect(info?.Config.Entrypoint).toEqual(ENTRYPOINT);
      expect(info?.Config.Labels?.[LABEL]).toBe('buildah');
      expect(info?.Config.WorkingDir).toBe('/app');
    }
  });

  test('5. HTTP DELETE of the v2s2 manifest by digest: its tag goes, pulling it fails, the OCI one stays', async () => {
    const res = await fetch(`${server.url}/v2/${repo}/manifests/${v2s2.digest}`, { method: 'DELETE' });
    expect(res.status, `DELETE /v2/${repo}/manifests/${v2s2.digest}: ${await res.text()}`).toBe(202);
    const tags = await listTags(server, repo);
    expect(tags, tags.text).toMatchObject({ status: 200, tags: ['oci'] });

    const store = 'after-delete';
    const gone = await t.attempt('buildah', store, ['pull', '--signature-policy', sandbox.policy, '--tls-verify=false', ref(v2s2.digest)]);
    expect(gone.code, `buildah pull of a deleted digest should fail\n${t.why(gone)}`).not.toBe(0);
    expect(gone.stderr, t.why(gone)).toMatch(/manifest unknown/i);
    const kept = await t.ok('buildah', store, ['pull', '--signature-policy', sandbox.policy, '--tls-verify=false', ref(oci.digest)]);
    expect(lastLine(kept), t.why(kept)).toBe(imageId);
  });
});
