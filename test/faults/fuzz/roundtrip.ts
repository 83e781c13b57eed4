// The check after the storm: a client pushes a blob (chunked session: POST, PATCH,
// PUT), a config (monolithic), an image manifest under a tag, and pulls them back,
// every digest checked.
import { HonestClient, sha256, withQuery } from './honest.ts';
import { Rng } from './prng.ts';

export interface RoundTrip {
  ok: boolean;
  detail: string;
}

export async function roundTrip(client: HonestClient, repo: string, seed: number): Promise<RoundTrip> {
  try {
    const rng = new Rng(seed, 0x7fff_fff0);
    const layer = rng.bytes(200_000);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', fuzzSeed: seed }));
    const layerDigest = await chunkedPush(client, repo, layer);
    const configDigest = await client.pushBlob(repo, config);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    });
    const manifestDigest = await client.pushManifest(repo, 'after-fuzz', manifest, 'application/vnd.oci.image.manifest.v1+json');
    const got = await client.request('GET', `/v2/${repo}/manifests/after-fuzz`, undefined, { accept: 'application/vnd.oci.image.manifest.v1+json' });
    const body = await client.expect(got, 200, 'GET manifest by tag');
    if (sha256(body) !== manifestDigest) throw new Error(`manifest pulled by tag has digest ${sha256(body)}, pushed ${manifestDigest}`);
    const header = got.headers.get('docker-content-digest');
    if (header !== null && header !== manifestDigest) throw new Error(`Docker-Content-Digest ${header}, pushed ${manifestDigest}`);
    for (const [digest, what] of [[layerDigest, 'layer'], [configDigest, 'config']] as const) {
      const res = await client.request('GET', `/v2/${repo}/blobs/${digest}`);
      const bytes = await followBlob(client, res, what);
      if (sha256(bytes) !== digest) throw new Error(`${what} pulled back has digest ${sha256(bytes)}, pushed ${digest}`);
    }
    return { ok: true, detail: `pushed and pulled ${repo}:after-fuzz (${manifestDigest})` };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
}

async function chunkedPush(client: HonestClient, repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const start = await client.request('POST', `/v2/${repo}/blobs/uploads/`);
  await client.expect(start, 202, 'POST upload session');
  let location = start.headers.get('location') as string;
  const half = Math.floor(data.length / 2);
  const patch = await client.request('PATCH', location, data.subarray(0, half), {
    'content-type': 'application/octet-stream',
    'content-range': `0-${half - 1}`,
  });
  await client.expect(patch, 202, 'PATCH first half');
  location = patch.headers.get('location') ?? location;
  const put = await client.request('PUT', withQuery(location, `digest=${digest}`), data.subarray(half), {
    'content-type': 'application/octet-stream',
  });
  await client.expect(put, 201, 'PUT last half with the digest');
  return digest;
}

/** The blob's bytes, following a redirect to storage when the registry answers with one. */
async function followBlob(client: HonestClient, res: Response, what: string): Promise<Buffer> {
  if (res.status === 307 || res.status === 302) {
    await res.arrayBuffer();
    const redirected = await fetch(res.headers.get('location') as string, { signal: AbortSignal.timeout(30_000) });
    return client.expect(redirected, 200, `GET ${what} from storage`);
  }
  return client.expect(res, 200, `GET ${what}`);
}
