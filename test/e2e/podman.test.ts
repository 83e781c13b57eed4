// End-to-end: podman imports root filesystems the test writes as tarballs, pushes
// them to a `bollard serve` process under several tags and as a multi-arch list,
// pulls them back into fresh stores, lists the tags, and deletes by digest. Every
// digest podman reports must match the bytes the registry serves.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type ServerProcess } from '../support/server.ts';
import { OCI_INDEX, sha256, type IndexDoc, type TarEntry } from './oci-layout.ts';
import { createSandbox, getManifest, lastLine, listTags, requireTools, tools, writeTar, type Sandbox, type Tools } from './containers-sandbox.ts';

const VERSIONS = await requireTools('test/e2e/podman.test.ts', ['podman', 'skopeo']);
const LABEL = 'org.example.bollard.e2e';

function rootfs(arch: string): TarEntry[] {
  return [
    { path: 'etc/' },
    { path: 'etc/os-release', data: `ID=bollard-e2e\nARCH=${arch}\n` },
    { path: 'bin/' },
    { path: 'bin/hello', data: `#!/bin/sh\necho hello from ${arch}\n`, mode: 0o755 },
    { path: 'srv/' },
    { path: `srv/${arch}.bin`, randomSize: 96 * 1024 },
  ];
}

interface ImageInfo {
  Id: string;
  Digest: string;
  RepoDigests: string[];
  Architecture: string;
  Config: { Cmd?: string[]; Labels?: Record<string, string> };
}

describe.skipIf(!VERSIONS)(`podman (${VERSIONS?.podman}) against bollard serve`, () => {
  let server: ServerProcess;
  let sandbox: Sandbox;
  let t: Tools;
  let amd64Id: string;
  let arm64Id: string;
  /** tag → manifest digest, as podman push --digestfile reported it */
  const pushed = new Map<string, string>();
  const repo = 'e2e/podman';
  const ref = (tagOrDigest: string, name = repo) => `${server.hostPort}/${name}${tagOrDigest.startsWith('sha256:') ? '@' : ':'}${tagOrDigest}`;
  const sig = () => ['--signature-policy', sandbox.policy, '--tls-verify=false'];

  beforeAll(async () => {
    server = await startServer();
    sandbox = await createSandbox('bl-podman-', server.hostPort);
    t = tools(sandbox, () => server);
    await writeTar(join(sandbox.dir, 'amd64.tar'), rootfs('amd64'));
    await writeTar(join(sandbox.dir, 'arm64.tar'), rootfs('arm64'));
  });

  afterAll(async () => {
    await server?.destroy();
    await sandbox?.remove();
  });

  async function inspect(store: string, image: string): Promise<ImageInfo> {
    const r = await t.ok('podman', store, ['image', 'inspect', image]);
    return (JSON.parse(r.stdout) as ImageInfo[])[0] as ImageInfo;
  }

  async function push(source: string, tag: string): Promise<string> {
    const file = join(sandbox.dir, `digest-${tag}`);
    await t.ok('podman', 'main', ['push', ...sig(), '--digestfile', file, source, `docker://${ref(tag)}`]);
    const digest = await t.digestFile(file);
    const raw = await t.inspectRaw(`${repo}:${tag}`);
    expect(sha256(raw), `sha256 of \`skopeo inspect --raw ${repo}:${tag}\` vs podman push --digestfile`).toBe(digest);
    pushed.set(tag, digest);
    return digest;
  }

  test('1. podman import, tag, push --digestfile, rmi, pull back', async () => {
    const imp = (arch: string, extra: string[]) =>
      t.ok('podman', 'main', ['import', '--os', 'linux', '--arch', arch, ...extra, join(sandbox.dir, `${arch}.tar`), `localhost/e2e/imported:${arch}`]);
    amd64Id = lastLine(await imp('amd64', ['--change', `LABEL ${LABEL}=podman`, '--change', 'CMD ["/bin/hello"]'])).replace(/^sha256:/, '');
    arm64Id = lastLine(await imp('arm64', ['--variant', 'v8'])).replace(/^sha256:/, '');
    expect(amd64Id).toMatch(/^[a-f0-9]{64}$/);
    expect(arm64Id).toMatch(/^[a-f0-9]{64}$/);

    for (const tag of ['v1', 'v2', 'latest']) await t.ok('podman', 'main', ['tag', 'localhost/e2e/imported:amd64', ref(tag)]);
    const v1 = await push(ref('v1'), 'v1');
    for (const tag of ['v2', 'latest']) {
      expect(await push(ref(tag), tag), `digest of ${tag}, the same image as v1`).toBe(v1);
    }
    await push('localhost/e2e/imported:arm64', 'other');
    expect(pushed.get('other')).not.toBe(v1);

    await t.ok('podman', 'main', ['rmi', ref('v1'), ref('v2'), ref('latest'), 'localhost/e2e/imported:amd64']);
    const gone = await t.attempt('podman', 'main', ['image', 'exists', amd64Id]);
    expect(gone.code, `image ${amd64Id} should be gone after rmi\n${t.why(gone)}`).toBe(1);

    const pull = await t.ok('podman', 'main', ['pull', ...sig(), ref('v1')]);
    expect(lastLine(pull), t.why(pull)).toBe(amd64Id);
    const info = await inspect('main', amd64Id);
    expect(info.Digest).toBe(v1);
    expect(info.RepoDigests).toContain(ref(v1));
    expect(info.Architecture).toBe('amd64');
    expect(info.Config.Cmd).toEqual(['/bin/hello']);
    expect(info.Config.Labels?.[LABEL]).toBe('podman');
  });

  test('2. podman search --list-tags and GET /v2/<name>/tags/list list what was pushed', async () => {
    const expected = [...pushed.keys()].sort();
    expect(expected).toEqual(['latest', 'other', 'v1', 'v2']);
    const http = await listTags(server, repo);
    expect(http, http.text).toMatchObject({ status: 200, name: repo, tags: expected });

    const r = await t.ok('podman', 'main', ['search', '--list-tags', '--format', 'json', '--tls-verify=false', `${server.hostPort}/${repo}`]);
    const found = JSON.parse(r.stdout) as Array<{ Name: string; Tags: string[] }>;
    expect(found.map((f) => ({ name: f.Name, tags: [...f.Tags].sort() })), t.why(r)).toEqual([{ name: `${server.hostPort}/${repo}`, tags: expected }]);
  });

  test('3. podman manifest create/add/push --all: a two-arch list, pulled back per platform', async () => {
    const list = 'localhost/e2e/list:v1';
    await t.ok('podman', 'main', ['manifest', 'create', list]);
    await t.ok('podman', 'main', ['manifest', 'add', '--arch', 'amd64', '--os', 'linux', '--annotation', `${LABEL}=amd64`, list, `containers-storage:${ref('v1')}`]);
    await t.ok('podman', 'main', ['manifest', 'add', '--arch', 'arm64', '--variant', 'v8', '--os', 'linux', list, 'containers-storage:localhost/e2e/imported:arm64']);
    const file = join(sandbox.dir, 'digest-list');
    await t.ok('podman', 'main', ['manifest', 'push', '--all', '--tls-verify=false', '--digestfile', file, list, `docker://${ref('v1', 'e2e/list')}`]);
    const digest = await t.digestFile(file);

    const raw = await t.inspectRaw('e2e/list:v1');
    expect(sha256(raw), 'sha256 of `skopeo inspect --raw e2e/list:v1` vs podman manifest push --digestfile').toBe(digest);
    const http = await getManifest(server, 'e2e/list', 'v1');
    expect(http.headerDigest, 'Docker-Content-Digest').toBe(digest);
    const index = JSON.parse(raw.toString()) as IndexDoc;
    expect(index.mediaType).toBe(OCI_INDEX);
    const platforms = index.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}${m.platform?.variant ? `/${m.platform.variant}` : ''}`);
    expect(platforms.sort()).toEqual(['linux/amd64', 'linux/arm64/v8']);
    const amd = index.manifests.find((m) => m.platform?.architecture === 'amd64');
    expect(amd?.annotations?.[LABEL]).toBe('amd64');
    expect(amd?.digest, 'the amd64 child is the manifest pushed as e2e/podman:v1').toBe(pushed.get('v1'));
    for (const child of index.manifests) {
      expect(sha256(await t.inspectRaw(`e2e/list@${child.digest}`)), `child ${child.platform?.architecture} by digest`).toBe(child.digest);
    }

    for (const [arch, id] of [
      ['arm64', arm64Id],
      ['amd64', amd64Id],
    ] as const) {
      const store = `list-${arch}`;
      const r = await t.ok('podman', store, ['pull', ...sig(), '--arch', arch, ...(arch === 'arm64' ? ['--variant', 'v8'] : []), ref('v1', 'e2e/list')]);
      expect(lastLine(r), `podman pull --arch ${arch} of the list\n${t.why(r)}`).toBe(id);
      expect((await inspect(store, id)).Architecture).toBe(arch);
    }
  });

  test('4. delete by digest: the manifest and its tags are gone, pulling it fails', async () => {
    const digest = pushed.get('v1') as string;
    await t.ok('skopeo', '', ['delete', '--tls-verify=false', `docker://${ref(digest)}`]);

    const http = await getManifest(server, repo, digest);
    expect(http.status, `GET /v2/${repo}/manifests/${digest} after delete: ${http.body.toString()}`).toBe(404);
    const tags = await listTags(server, repo);
    expect(tags, tags.text).toMatchObject({ status: 200, tags: ['other'] });

    for (const r of [
      await t.attempt('podman', 'after-delete', ['pull', ...sig(), ref(digest)]),
      await t.attempt('podman', 'after-delete', ['pull', ...sig(), ref('v1')]),
    ]) {
      expect(r.code, `pull after delete should fail\n${t.why(r)}`).not.toBe(0);
      expect(r.stderr).toMatch(/manifest unknown/i);
    }
    // The same manifest in another repository, and the other tag here, still pull.
    expect(sha256(await t.inspectRaw(`e2e/list@${digest}`))).toBe(digest);
    const other = await t.ok('podman', 'after-delete', ['pull', ...sig(), ref('other')]);
    expect(lastLine(other), t.why(other)).toBe(arm64Id);
  });
});
