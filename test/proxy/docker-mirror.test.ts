// Docker's `registry-mirrors` against a real `bollard serve` in mirror mode
// (BOLLARD_PROXY_MIRROR): a dockerd of the test's own, whose daemon.json names
// Bollard in `registry-mirrors`, sends `docker pull <name>` (Docker Hub's
// library/<name>) to Bollard, which fetches it from distribution 2.8.2 on
// loopback. There is no Docker Hub here: were the mirror to fail, docker's
// fallback to Hub would fail too, so a pull that succeeds came through Bollard.
// Then the upstream is stopped and the image pulled again, from the cache.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DOCKER_LIST, DOCKER_MANIFEST } from '../support/fixtures.ts';
import { startServer, type ServerProcess } from '../support/server.ts';
import { fetchBlobDigest, fetchManifest, findClient, missingClient, ON_CI, runner, type Runner } from '../e2e/clients.ts';
import { listTags } from '../e2e/containers-sandbox.ts';
import { context, DOCKERD, pushedDigest, startDaemon, type Daemon } from '../e2e/docker-daemon.ts';
import { sha256 } from '../e2e/oci-layout.ts';
import { DISTRIBUTION, startDistribution, type Distribution } from './upstreams.ts';

const FILE = 'test/proxy/docker-mirror.test.ts';
const DOCKER = await findClient('docker', ['--version'], { candidates: ['/usr/bin/docker'], version: /version 20\.10\./ });
const DAEMON = DOCKER ? await findClient(DOCKERD, ['--version'], { candidates: [DOCKERD], version: /version 20\.10\./ }) : undefined;
if (!DOCKER || !DAEMON) missingClient(FILE, 'docker 20.10 (docker.io)', 'bash scripts/clients/install-docker.sh');
const UPSTREAM = existsSync(DISTRIBUTION);
if (!UPSTREAM) missingClient(FILE, `distribution (${DISTRIBUTION})`, 'apt-get install -y docker-registry');
const ROOT = process.getuid?.() === 0;
if (DOCKER && DAEMON && !ROOT) {
  if (ON_CI) test('dockerd can run', () => expect.fail(`${FILE} runs its own dockerd, which needs root, but CI is set and this is not root`));
  else console.log(`${FILE}: skipped, its own dockerd needs root`);
}

/** An image as docker built and pushed it: its ID (the config's digest) and the manifest's digest. */
interface Pushed {
  id: string;
  digest: string;
}

interface ManifestDoc {
  config: { digest: string; size: number };
  layers: Array<{ digest: string; size: number }>;
}

describe.skipIf(!DOCKER || !DAEMON || !UPSTREAM || !ROOT)(`docker (${DOCKER?.version}) with Bollard as its registry mirror`, () => {
  let work: string;
  let upstream: Distribution;
  let server: ServerProcess;
  let daemon: Daemon;
  let docker: Runner;
  let single: Pushed;
  let multi: Pushed & { mine: Pushed; other: Pushed };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'bl-dkmirror-'));
    upstream = await startDistribution({ anonymous: true });
    // a tag TTL of 0: every pull by tag asks the upstream, so the pull with the upstream stopped is served stale
    server = await startServer({ env: { BOLLARD_PROXY_MIRROR: upstream.url, BOLLARD_PROXY_TAG_TTL: '0', BOLLARD_PROXY_TIMEOUT: '5' } });
    // the setting docs/proxy.md gives, in a daemon.json of the daemon's own: plain HTTP, no insecure-registries entry
    const config = join(work, 'daemon.json');
    await writeFile(config, JSON.stringify({ 'registry-mirrors': [server.url] }));
    daemon = await startDaemon(DOCKER!.path, join(work, 'd'), ['--config-file', config]);
    docker = runner(DOCKER!.path, () => daemon.env, () => server, 120_000);
  });

  afterAll(async () => {
    await daemon?.stop();
    await server?.destroy();
    await upstream?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const inspect = async (ref: string) => {
    const r = await docker.ok(['image', 'inspect', '--format', '{{json .}}', ref]);
    return JSON.parse(r.stdout) as { Id: string; RepoDigests: string[] };
  };
  /** Builds an image FROM scratch and pushes it to the upstream as library/<name>:<tag>; docker then forgets it. */
  const pushUpstream = async (name: string, tag: string, text: string): Promise<Pushed> => {
    const ref = `${upstream.url.slice('http://'.length)}/library/${name}:${tag}`;
    const dir = await context(join(work, `${name}-${tag}`), 'FROM scratch\nCOPY hello.txt /hello.txt\nCOPY data.bin /data.bin\n', {
      'hello.txt': text,
      'data.bin': randomBytes(256 * 1024),
    });
    await docker.ok(['build', '-q', '-t', ref, dir]);
    const id = (await inspect(ref)).Id;
    const digest = pushedDigest(await docker.ok(['push', ref]));
    await docker.ok(['rmi', ref]);
    expect((await docker.attempt(['image', 'inspect', id])).code).not.toBe(0);
    return { id, digest };
  };
  /** `docker pull <name>:v1`, as a user of Docker Hub types it: the image is `id`, named by `digest`. */
  const pull = async (name: string, id: string, digest: string) => {
    const r = await docker.ok(['pull', `${name}:v1`]);
    expect(r.stdout).toContain(`Digest: ${digest}`);
    const image = await inspect(`${name}:v1`);
    expect(image.Id).toBe(id);
    expect(image.RepoDigests).toEqual([`${name}@${digest}`]);
  };
  /** Bollard holds the image manifest and its blobs under the name docker sent, byte for byte. */
  const held = async (repo: string, image: Pushed) => {
    const served = await fetchManifest(server, repo, image.digest);
    expect([served.status, served.digest, sha256(served.body)]).toEqual([200, image.digest, image.digest]);
    const doc = JSON.parse(served.body.toString()) as ManifestDoc;
    expect(doc.config.digest).toBe(image.id);
    expect(doc.layers).toHaveLength(2);
    for (const d of [doc.config, ...doc.layers]) expect(await fetchBlobDigest(server, repo, d.digest)).toEqual({ status: 200, digest: d.digest, size: d.size });
  };

  test('docker pull <name> goes to the mirror, which fetches library/<name> upstream and caches it', async () => {
    single = await pushUpstream('mirrored', 'v1', 'hello through the mirror\n');
    expect((await listTags(server, 'library/mirrored')).status).toBe(404);
    await pull('mirrored', single.id, single.digest);
    expect(await listTags(server, 'library/mirrored')).toMatchObject({ status: 200, tags: ['v1'] });
    await held('library/mirrored', single);
  });

  test('a multi-platform list, as Hub serves its images: docker takes the child of its platform by digest', async () => {
    const mine = await pushUpstream('multi', 'mine', 'this platform\n');
    const other = await pushUpstream('multi', 'other', 'another platform\n');
    const [arch, otherArch] = process.arch === 'arm64' ? ['arm64', 'amd64'] : ['amd64', 'arm64'];
    const platforms = [{ digest: mine.digest, architecture: arch }, { digest: other.digest, architecture: otherArch }];
    const children = await Promise.all(platforms.map(async ({ digest, architecture }) => {
      const res = await fetch(`${upstream.url}/v2/library/multi/manifests/${digest}`, { headers: { Accept: DOCKER_MANIFEST } });
      const size = (await res.arrayBuffer()).byteLength;
      return { mediaType: DOCKER_MANIFEST, digest, size, platform: { architecture, os: 'linux' } };
    }));
    const list = JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: children });
    const put = await fetch(`${upstream.url}/v2/library/multi/manifests/v1`, { method: 'PUT', headers: { 'Content-Type': DOCKER_LIST }, body: list });
    expect(put.status).toBe(201);
    multi = { id: mine.id, digest: sha256(list), mine, other };
    await pull('multi', mine.id, multi.digest);
    expect((await fetchManifest(server, 'library/multi', multi.digest)).status).toBe(200);
    await held('library/multi', mine);
  });

  test('with the upstream stopped, docker rmi and docker pull again: served from the cache; the other platform was never fetched', async () => {
    await upstream.stop();
    for (const [name, image] of [['mirrored', single], ['multi', multi]] as const) {
      await docker.ok(['rmi', `${name}:v1`]);
      expect((await docker.attempt(['image', 'inspect', image.id])).code).not.toBe(0);
      await pull(name, image.id, image.digest);
    }
    expect(server.output()).toContain('serving a stale cached tag');
    // the other platform's child was never asked for, so it was never fetched: with no upstream it is not to be had
    expect((await fetchManifest(server, 'library/multi', multi.other.digest)).status).toBe(503);
  });
});
