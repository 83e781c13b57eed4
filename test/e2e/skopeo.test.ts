// End-to-end: skopeo (a real registry client, from containers/image) pushes OCI
// image layouts that the test builds itself to a `bollard serve` process, pulls
// them back and deletes them, and every digest must survive the round trip.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type ServerProcess } from '../support/server.ts';
import {
  OCI_INDEX,
  OCI_MANIFEST,
  blobPath,
  checkBlobFile,
  initLayout,
  readBlob,
  readJsonBlob,
  resolveRef,
  sha256,
  writeImage,
  writeIndex,
  writeIndexJson,
  type BuiltImage,
  type Descriptor,
  type IndexDoc,
  type ManifestDoc,
  type TarEntry,
} from './oci-layout.ts';

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const SKOPEO_TIMEOUT_MS = 90_000;

interface Run {
  args: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a command with an argument array (no shell), collecting its output. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = SKOPEO_TIMEOUT_MS): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[test] killed after ${timeoutMs} ms`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ args, code: null, signal: null, stdout: Buffer.alloc(0), stderr: `${stderr}\n[test] ${String(err)}` });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ args, code, signal, stdout: Buffer.concat(out), stderr });
    });
  });
}

async function skopeoVersion(): Promise<string | undefined> {
  const r = await run('skopeo', ['--version'], process.env, 30_000);
  return r.code === 0 ? r.stdout.toString().trim() : undefined;
}

const SKOPEO = await skopeoVersion();
const ON_CI = !!process.env.CI && !['0', 'false'].includes(process.env.CI.toLowerCase());

if (!SKOPEO) {
  if (ON_CI) {
    test('skopeo is installed', () => {
      expect.fail('skopeo is not on PATH, but CI is set: the CI script must install it (apt-get install -y skopeo)');
    });
  } else {
    console.log('test/e2e/skopeo.test.ts: skipped, skopeo is not installed (apt-get install -y skopeo to run it)');
  }
}

function tail(text: string, max = 12_000): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

const ARM64_LAYER_BYTES = 160 * 1024;

function layerFiles(tag: string, randomSize: number): TarEntry[][] {
  return [
    [
      { path: 'etc/' },
      { path: 'etc/bollard-e2e/' },
      { path: `etc/bollard-e2e/${tag}.txt`, data: `hello from the ${tag} image\n` },
      { path: 'opt/' },
      { path: `opt/${tag}-a.bin`, randomSize },
    ],
    [
      { path: 'usr/' },
      { path: 'usr/share/' },
      { path: `usr/share/${tag}-notes.txt`, data: `second layer of ${tag}\n`.repeat(50) },
      { path: `usr/share/${tag}-b.bin`, randomSize: Math.floor(randomSize / 2) },
      { path: 'usr/bin/' },
      { path: 'usr/bin/hello', data: '#!/bin/sh\necho hello\n', mode: 0o755 },
    ],
  ];
}

describe.skipIf(!SKOPEO)(`skopeo (${SKOPEO ?? 'not installed'}) against bollard serve`, () => {
  let server: ServerProcess;
  let work: string;
  let layout: string;
  let skopeoEnv: NodeJS.ProcessEnv;
  let globalFlags: string[];
  let single: BuiltImage;
  let amd64: BuiltImage;
  let arm64: BuiltImage;
  let multi: Descriptor;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'bollard-e2e-skopeo-'));
    layout = join(work, 'layout');
    await initLayout(layout);
    single = await writeImage(layout, { platform: { architecture: 'amd64', os: 'linux' }, layers: layerFiles('single', 200 * 1024) });
    amd64 = await writeImage(layout, { platform: { architecture: 'amd64', os: 'linux' }, layers: layerFiles('multi-amd64', 120 * 1024) });
    arm64 = await writeImage(layout, {
      platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
      layers: layerFiles('multi-arm64', ARM64_LAYER_BYTES),
      cmd: ['/usr/bin/hello'],
    });
    multi = await writeIndex(layout, [amd64, arm64]);
    await writeIndexJson(layout, [
      { ref: 'v1', descriptor: single.manifest },
      { ref: 'multi', descriptor: multi },
    ]);

    // skopeo's state (policy, registries, caches, auth, temp files) lives under `work`.
    const home = join(work, 'home');
    const runtime = join(work, 'run');
    const tmp = join(work, 'tmp');
    const registriesD = join(work, 'registries.d');
    for (const d of [home, runtime, tmp, registriesD]) await mkdir(d, { recursive: true, mode: 0o700 });
    const policy = join(work, 'policy.json');
    await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const registriesConf = join(work, 'registries.conf');
    await writeFile(registriesConf, 'unqualified-search-registries = []\n');
    skopeoEnv = {
      PATH: process.env.PATH,
      HOME: home,
      TMPDIR: tmp,
      XDG_RUNTIME_DIR: runtime,
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_DATA_HOME: join(home, '.local', 'share'),
      XDG_CACHE_HOME: join(home, '.cache'),
      REGISTRY_AUTH_FILE: join(work, 'auth.json'),
      CONTAINERS_REGISTRIES_CONF: registriesConf,
      // As root, containers/image keeps its blob-info cache in /var/lib/containers;
      // a non-zero "rootless" uid moves it under XDG_DATA_HOME, i.e. into `work`.
      ...(process.getuid?.() === 0 ? { _CONTAINERS_ROOTLESS_UID: '1000' } : {}),
    };
    await writeFile(join(work, 'auth.json'), JSON.stringify({ auths: {} }));
    globalFlags = ['--debug', '--policy', policy, '--registries-conf', registriesConf, '--registries.d', registriesD, '--tmpdir', tmp];

    server = await startServer();
  });

  afterAll(async () => {
    await server?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Runs skopeo; unless `expectFailure`, a non-zero exit fails the test with skopeo's stderr and the server log. */
  async function skopeo(args: string[], expectFailure = false): Promise<Run> {
    const r = await run('skopeo', [...globalFlags, ...args], skopeoEnv);
    if (!expectFailure && r.code !== 0) {
      expect.fail(
        `skopeo ${args.join(' ')} exited ${r.code ?? r.signal}\n--- skopeo stderr ---\n${tail(r.stderr)}\n--- server log ---\n${tail(server.output())}`,
      );
    }
    return r;
  }

  function why(r: Run): string {
    return `skopeo ${r.args.slice(globalFlags.length).join(' ')}\n--- skopeo stderr ---\n${tail(r.stderr, 6_000)}\n--- server log ---\n${tail(server.output(), 6_000)}`;
  }

  const docker = (ref: string) => `docker://${server.hostPort}/${ref}`;

  /** Raw manifest bytes as skopeo fetches them from the registry. */
  async function inspectRaw(ref: string): Promise<Buffer> {
    return (await skopeo(['inspect', '--raw', '--tls-verify=false', docker(ref)])).stdout;
  }

  /** Checks a pulled layout's image against the one the test built. */
  async function expectSameImage(out: string, manifest: Descriptor, image: BuiltImage): Promise<void> {
    expect(manifest.digest, 'manifest digest after the round trip').toBe(image.manifest.digest);
    expect(manifest.size).toBe(image.manifest.size);
    const raw = await readBlob(out, manifest.digest);
    expect(raw.equals(await readFile(blobPath(layout, image.manifest.digest))), 'manifest bytes after the round trip').toBe(true);
    const doc = JSON.parse(raw.toString()) as ManifestDoc;
    expect(doc.config.digest).toBe(image.config.digest);
    expect(doc.layers.map((l) => l.digest)).toEqual(image.layers.map((l) => l.digest));
    for (const d of [doc.config, ...doc.layers]) {
      expect(await checkBlobFile(out, d.digest), `blob ${d.digest} as written to ${out}`).toEqual({ digest: d.digest, size: d.size });
    }
  }

  test('1. copy oci layout → registry, then inspect --raw, inspect and list-tags', async () => {
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, docker('e2e/single:v1')]);
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, docker('e2e/single:v2')]);

    const raw = await inspectRaw('e2e/single:v1');
    expect(sha256(raw), 'sha256 of `skopeo inspect --raw e2e/single:v1`').toBe(single.manifest.digest);
    expect(raw.equals(await readFile(blobPath(layout, single.manifest.digest)))).toBe(true);
    expect(sha256(await inspectRaw('e2e/single:v2')), 'sha256 of `skopeo inspect --raw e2e/single:v2`').toBe(single.manifest.digest);
    expect(sha256(await inspectRaw(`e2e/single@${single.manifest.digest}`))).toBe(single.manifest.digest);

    const insp = await skopeo(['inspect', '--tls-verify=false', docker('e2e/single:v1')]);
    const info = JSON.parse(insp.stdout.toString()) as {
      Digest: string;
      Architecture: string;
      Os: string;
      Layers: string[];
      RepoTags: string[];
      Labels: Record<string, string> | null;
    };
    expect(info.Digest, why(insp)).toBe(single.manifest.digest);
    expect(info.Architecture).toBe('amd64');
    expect(info.Os).toBe('linux');
    expect(info.Layers).toEqual(single.layers.map((l) => l.digest));
    expect(info.Labels).toEqual({ 'org.example.bollard.e2e': 'amd64' });
    expect([...info.RepoTags].sort()).toEqual(['v1', 'v2']);

    const tags = await skopeo(['list-tags', '--tls-verify=false', docker('e2e/single')]);
    const listed = JSON.parse(tags.stdout.toString()) as { Repository: string; Tags: string[] };
    expect(listed.Repository).toBe(`${server.hostPort}/e2e/single`);
    expect([...listed.Tags].sort(), why(tags)).toEqual(['v1', 'v2']);
  });

  test('2. copy registry → oci layout keeps the manifest and every blob digest', async () => {
    const out = join(work, 'out-single');
    await skopeo(['copy', '--src-tls-verify=false', docker('e2e/single:v1'), `oci:${out}:v1`]);
    const pulled = await resolveRef(out, 'v1');
    expect(pulled.mediaType).toBe(OCI_MANIFEST);
    await expectSameImage(out, pulled, single);
  });

  test('3. --format v2s2 pushes a Docker schema 2 manifest whose gzip layers keep their digests', async () => {
    await skopeo(['copy', '--format', 'v2s2', '--dest-tls-verify=false', `oci:${layout}:v1`, docker('e2e/docker:v1')]);

    const raw = await inspectRaw('e2e/docker:v1');
    const doc = JSON.parse(raw.toString()) as ManifestDoc;
    expect(doc.schemaVersion).toBe(2);
    expect(doc.mediaType).toBe(DOCKER_MANIFEST);
    expect(doc.config.mediaType).toBe(DOCKER_CONFIG);
    expect(doc.layers.map((l) => l.mediaType)).toEqual([DOCKER_LAYER_GZIP, DOCKER_LAYER_GZIP]);
    expect(doc.layers.map((l) => l.digest)).toEqual(single.layers.map((l) => l.digest));
    expect(doc.layers.map((l) => l.size)).toEqual(single.layers.map((l) => l.size));

    // The registry serves it under its own digest, by tag and by digest.
    const dockerDigest = sha256(raw);
    const insp = await skopeo(['inspect', '--tls-verify=false', docker('e2e/docker:v1')]);
    expect((JSON.parse(insp.stdout.toString()) as { Digest: string }).Digest, why(insp)).toBe(dockerDigest);
    expect(sha256(await inspectRaw(`e2e/docker@${dockerDigest}`))).toBe(dockerDigest);
    const head = await fetch(`${server.url}/v2/e2e/docker/manifests/v1`, { method: 'HEAD', headers: { Accept: DOCKER_MANIFEST } });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe(DOCKER_MANIFEST);
    expect(head.headers.get('docker-content-digest')).toBe(dockerDigest);

    const out = join(work, 'out-docker');
    await skopeo(['copy', '--src-tls-verify=false', docker('e2e/docker:v1'), `oci:${out}:v1`]);
    const pulled = await resolveRef(out, 'v1');
    const back = await readJsonBlob<ManifestDoc>(out, pulled.digest);
    expect(back.layers.map((l) => l.digest)).toEqual(single.layers.map((l) => l.digest));
    for (const d of [back.config, ...back.layers]) {
      expect(await checkBlobFile(out, d.digest), `blob ${d.digest} as written to ${out}`).toEqual({ digest: d.digest, size: d.size });
    }
    const config = await readJsonBlob<{ rootfs: { diff_ids: string[] }; architecture: string }>(out, back.config.digest);
    expect(config.rootfs.diff_ids).toEqual(single.layers.map((l) => l.diffId));
    expect(config.architecture).toBe('amd64');
  });

  test('4. copy --all an image index → registry → oci layout keeps every digest', async () => {
    await skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${layout}:multi`, docker('e2e/multi:latest')]);

    const raw = await inspectRaw('e2e/multi:latest');
    expect(sha256(raw), 'sha256 of `skopeo inspect --raw e2e/multi:latest`').toBe(multi.digest);
    expect(raw.equals(await readFile(blobPath(layout, multi.digest)))).toBe(true);
    const index = JSON.parse(raw.toString()) as IndexDoc;
    expect(index.mediaType).toBe(OCI_INDEX);
    expect(index.manifests.map((m) => m.digest)).toEqual([amd64.manifest.digest, arm64.manifest.digest]);

    for (const child of [amd64, arm64]) {
      const childRaw = await inspectRaw(`e2e/multi@${child.manifest.digest}`);
      expect(sha256(childRaw), `child ${child.platform.architecture} fetched by digest`).toBe(child.manifest.digest);
      expect(childRaw.equals(await readFile(blobPath(layout, child.manifest.digest)))).toBe(true);
      // Platform selection through the index, as `docker pull --platform` does it.
      const insp = await skopeo([
        '--override-arch',
        child.platform.architecture,
        '--override-os',
        'linux',
        ...(child.platform.variant ? ['--override-variant', child.platform.variant] : []),
        'inspect',
        '--tls-verify=false',
        docker('e2e/multi:latest'),
      ]);
      const info = JSON.parse(insp.stdout.toString()) as { Architecture: string; Layers: string[] };
      expect(info.Architecture, why(insp)).toBe(child.platform.architecture);
      expect(info.Layers).toEqual(child.layers.map((l) => l.digest));
    }

    const out = join(work, 'out-multi');
    await skopeo(['copy', '--all', '--src-tls-verify=false', docker('e2e/multi:latest'), `oci:${out}:multi`]);
    const pulled = await resolveRef(out, 'multi');
    expect(pulled.mediaType).toBe(OCI_INDEX);
    expect(pulled.digest, 'index digest after the round trip').toBe(multi.digest);
    const backIndex = await readJsonBlob<IndexDoc>(out, pulled.digest);
    expect(backIndex.manifests.map((m) => m.digest)).toEqual([amd64.manifest.digest, arm64.manifest.digest]);
    for (const [i, child] of [amd64, arm64].entries()) {
      await expectSameImage(out, backIndex.manifests[i] as Descriptor, child);
    }
  });

  test('5. skopeo delete by digest removes the manifest', async () => {
    const digest = single.manifest.digest;
    await skopeo(['delete', '--tls-verify=false', docker(`e2e/single@${digest}`)]);

    const byDigest = await skopeo(['inspect', '--raw', '--tls-verify=false', docker(`e2e/single@${digest}`)], true);
    expect(byDigest.code, `inspect by digest after delete should fail\n${why(byDigest)}`).not.toBe(0);
    const byTag = await skopeo(['inspect', '--raw', '--tls-verify=false', docker('e2e/single:v1')], true);
    expect(byTag.code, `inspect of tag v1 after delete should fail\n${why(byTag)}`).not.toBe(0);

    const res = await fetch(`${server.url}/v2/e2e/single/manifests/${digest}`, {
      headers: { Accept: [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST].join(', ') },
    });
    expect(res.status, `GET /v2/e2e/single/manifests/${digest}: ${await res.text()}`).toBe(404);

    // Other repositories holding the same layers are untouched.
    const other = await inspectRaw('e2e/docker:v1');
    expect((JSON.parse(other.toString()) as ManifestDoc).layers.map((l) => l.digest)).toEqual(single.layers.map((l) => l.digest));
  });

  test('6. skopeo delete of a platform an index lists fails and prints why; the image still pulls', async () => {
    const child = amd64.manifest.digest;
    const refused = await skopeo(['delete', '--tls-verify=false', docker(`e2e/multi@${child}`)], true);
    expect(refused.code, why(refused)).not.toBe(0);
    expect(refused.stderr, why(refused)).toContain(`is listed by index ${multi.digest}; delete the index first`);
    expect(sha256(await inspectRaw(`e2e/multi@${child}`))).toBe(child);
  });
});
