// podman pulls through the pull-through cache of a real `bollard serve`, in a
// sandbox of its own (storage, registries.conf), from distribution 2.8.2 with
// htpasswd auth: (a) by prefix, 127.0.0.1:PORT/up/<name>; (b) as podman's
// [[registry.mirror]] of the upstream, sending the upstream's own name, which
// Bollard's mirror serves. podman has no credentials for the upstream, so a pull
// that succeeds went through Bollard. Then the upstream is stopped, and both pulls
// are served from the cache.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type ServerProcess } from '../support/server.ts';
import { createSandbox, lastLine, listTags, requireTools, tools, type Sandbox, type Tools } from '../e2e/containers-sandbox.ts';
import { initLayout, writeImage, writeIndexJson, type BuiltImage } from '../e2e/oci-layout.ts';
import { DISTRIBUTION, startDistribution, type Distribution } from './upstreams.ts';

const VERSIONS = existsSync(DISTRIBUTION) ? await requireTools('test/proxy/podman.test.ts', ['podman', 'skopeo']) : undefined;

describe.skipIf(!VERSIONS)(`podman (${VERSIONS?.podman}) through the pull-through cache`, () => {
  let upstream: Distribution;
  let server: ServerProcess;
  let sandbox: Sandbox;
  let t: Tools;
  let image: BuiltImage;
  const upstreamHost = () => upstream.url.slice('http://'.length);
  const sig = () => ['--signature-policy', sandbox.policy];

  beforeAll(async () => {
    upstream = await startDistribution();
    const password = `${upstream.password}\n`;
    // the sandbox's directory is made first, for the layout and the password file; its registries.conf is replaced below
    sandbox = await createSandbox('bl-pxpod-', '127.0.0.1:1');
    const layout = join(sandbox.dir, 'layout');
    await initLayout(layout);
    image = await writeImage(layout, { platform: { architecture: 'amd64', os: 'linux' }, cmd: ['/hello'], layers: [[{ path: 'hello', data: 'hi\n', mode: 0o755 }, { path: 'data.bin', randomSize: 128 * 1024 }]] });
    await writeIndexJson(layout, [{ ref: 'v1', descriptor: image.manifest }]);
    await writeFile(join(sandbox.dir, 'password'), password);
    const up = `{url: "${upstream.url}", username: ${upstream.user}, passwordFile: "${join(sandbox.dir, 'password')}"}`;
    await writeFile(join(sandbox.dir, 'bollard.yml'), ['proxy:', '  tagTtl: 0', '  upstreams:', `    - {prefix: up, ${up.slice(1)}`, `  mirror: ${up}`].join('\n'));
    server = await startServer({ env: { BOLLARD_CONFIG: join(sandbox.dir, 'bollard.yml') } });
    // podman reads the upstream through its mirror, Bollard; both plain HTTP on loopback
    await writeFile(sandbox.env.CONTAINERS_REGISTRIES_CONF as string, [
      'unqualified-search-registries = []',
      `[[registry]]\nlocation = "${server.hostPort}"\ninsecure = true`,
      `[[registry]]\nlocation = "${upstreamHost()}"\ninsecure = true`,
      `[[registry.mirror]]\nlocation = "${server.hostPort}"\ninsecure = true`,
    ].join('\n\n'));
    t = tools(sandbox, () => server);
    await t.ok('skopeo', '', ['copy', '--preserve-digests', '--dest-creds', `${upstream.user}:${upstream.password}`, `oci:${layout}:v1`, `docker://${upstreamHost()}/team/app:v1`]);
  });

  afterAll(async () => {
    await server?.destroy();
    await upstream?.stop();
    await sandbox?.remove();
  });

  const imageId = () => image.config.digest.slice('sha256:'.length);

  async function pull(store: string, ref: string): Promise<void> {
    const r = await t.ok('podman', store, ['pull', ...sig(), ref]);
    expect(lastLine(r), t.why(r)).toBe(imageId());
    const info = JSON.parse((await t.ok('podman', store, ['image', 'inspect', imageId()])).stdout) as Array<{ Digest: string }>;
    expect(info[0]?.Digest).toBe(image.manifest.digest);
  }

  test('(a) by prefix: 127.0.0.1:PORT/up/team/app:v1', async () => {
    await pull('prefix', `${server.hostPort}/up/team/app:v1`);
    expect(await listTags(server, 'up/team/app')).toMatchObject({ status: 200, tags: ['v1'] });
  });

  test('(b) as the mirror of the upstream: podman sends team/app, which Bollard fetches and caches', async () => {
    expect((await listTags(server, 'team/app')).status).toBe(404);
    await pull('mirror', `${upstreamHost()}/team/app:v1`);
    expect(await listTags(server, 'team/app')).toMatchObject({ status: 200, tags: ['v1'] });
    expect(server.output()).not.toContain(upstream.password);
  });

  test('with the upstream stopped, both pulls are served from the cache into fresh stores', async () => {
    await upstream.stop();
    await pull('prefix-again', `${server.hostPort}/up/team/app:v1`);
    await pull('mirror-again', `${upstreamHost()}/team/app:v1`);
  });
});
