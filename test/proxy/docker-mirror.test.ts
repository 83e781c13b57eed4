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

/** What `docker pull mirrored:v1` asks the mirror for: Docker Hub's official image. */
const NAME = 'mirrored';
const REPO = `library/${NAME}`;

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
  let pushed: { id: string; digest: string };

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
  const pull = async () => {
    const r = await docker.ok(['pull', `${NAME}:v1`]);
    expect(r.stdout).toContain(`Digest: ${pushed.digest}`);
    const image = await inspect(`${NAME}:v1`);
    expect(image.Id).toBe(pushed.id);
    expect(image.RepoDigests).toEqual([`${NAME}@${pushed.digest}`]);
  };

  test('docker pull <name> goes to the mirror, which fetches library/<name> upstream and caches it', async () => {
    const upstreamRef = `${upstream.url.slice('http://'.length)}/${REPO}:v1`;
    const dir = await context(join(work, 'img'), 'FROM scratch\nCOPY hello.txt /hello.txt\nCOPY data.bin /data.bin\n', {
      'hello.txt': 'hello through the mirror\n',
      'data.bin': randomBytes(256 * 1024),
    });
    await docker.ok(['build', '-q', '-t', upstreamRef, dir]);
    const id = (await inspect(upstreamRef)).Id;
    pushed = { id, digest: pushedDigest(await docker.ok(['push', upstreamRef])) };
    await docker.ok(['rmi', upstreamRef]);
    expect((await docker.attempt(['image', 'inspect', id])).code).not.toBe(0);
    expect((await listTags(server, REPO)).status).toBe(404);

    await pull();

    // Bollard holds it now under the name docker sent, byte for byte
    expect(await listTags(server, REPO)).toMatchObject({ status: 200, tags: ['v1'] });
    const served = await fetchManifest(server, REPO, pushed.digest);
    expect([served.status, served.digest, sha256(served.body)]).toEqual([200, pushed.digest, pushed.digest]);
    const doc = JSON.parse(served.body.toString()) as ManifestDoc;
    expect(doc.config.digest).toBe(id);
    expect(doc.layers).toHaveLength(2);
    for (const d of [doc.config, ...doc.layers]) expect(await fetchBlobDigest(server, REPO, d.digest)).toEqual({ status: 200, digest: d.digest, size: d.size });
  });

  test('with the upstream stopped, docker rmi and docker pull again: served from the cache', async () => {
    await upstream.stop();
    await docker.ok(['rmi', `${NAME}:v1`]);
    expect((await docker.attempt(['image', 'inspect', pushed.id])).code).not.toBe(0);
    await pull();
    expect(server.output()).toContain('serving a stale cached tag');
  });
});
