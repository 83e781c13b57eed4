// What the fuzzer aims at: a few repositories seeded with blobs, manifests, an
// index, a referrer and tags (deterministic from the seed), and the upload
// sessions opened while the run goes. A session is lent to one request at a
// time: two requests writing one session at once would be answered 503 by
// design ("another request is writing"), which is no fault of the registry.
import { HonestClient, sha256 } from './honest.ts';
import { Rng } from './prng.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const CONFIG_TYPE = 'application/vnd.oci.image.config.v1+json';
export const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar';
export const SIG_TYPE = 'application/vnd.fuzz.signature';

export interface Blob {
  repo: string;
  digest: string;
  size: number;
}

export interface Manifest {
  repo: string;
  digest: string;
  body: string;
  mediaType: string;
}

export interface Session {
  repo: string;
  id: string;
  /** Where the registry said to send the next request: path and query (distribution keeps its state there). */
  location: string;
  /** The bytes the session holds, as far as honest answers tell; null once unknown. */
  data: Buffer | null;
  busy: boolean;
}

const MAX_SESSIONS = 40;

export class World {
  readonly repos: string[];
  readonly blobs: Blob[] = [];
  readonly manifests: Manifest[] = [];
  readonly tags: string[] = ['v1', 'multi', 'latest'];
  private readonly sessions: Session[] = [];
  /** A bearer token covering the seeded repositories (token mode), else null. */
  token: string | null = null;

  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed;
    this.repos = ['fuzz/alpha', 'fuzz/beta', 'fuzz/deep/gamma'];
  }

  /** Pushes the seeded content: per repository a config, two layers, an image (v1, latest), an index (multi), a referrer. */
  async seedContent(client: HonestClient): Promise<void> {
    const rng = new Rng(this.seed, 0x7fff_ff00);
    for (const repo of this.repos) {
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', repo, seed: this.seed }));
      const layers = [rng.bytes(rng.int(1, 4096)), rng.bytes(rng.int(1, 4096))];
      for (const data of [config, ...layers]) this.blobs.push({ repo, digest: await client.pushBlob(repo, data), size: data.length });
      const image = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: CONFIG_TYPE, digest: sha256(config), size: config.length },
        layers: layers.map((l) => ({ mediaType: LAYER_TYPE, digest: sha256(l), size: l.length })),
      });
      for (const tag of ['v1', 'latest']) await client.pushManifest(repo, tag, image, OCI_MANIFEST);
      this.manifests.push({ repo, digest: sha256(image), body: image, mediaType: OCI_MANIFEST });
      const index = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256(image), size: image.length }] });
      await client.pushManifest(repo, 'multi', index, OCI_INDEX);
      this.manifests.push({ repo, digest: sha256(index), body: index, mediaType: OCI_INDEX });
      const referrer = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: SIG_TYPE,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: config.length },
        layers: [],
        subject: { mediaType: OCI_MANIFEST, digest: sha256(image), size: image.length },
        annotations: { 'org.example.fuzz': `seed ${this.seed}` },
      });
      this.manifests.push({ repo, digest: await client.pushManifest(repo, sha256(referrer), referrer, OCI_MANIFEST), body: referrer, mediaType: OCI_MANIFEST });
    }
  }

  blobsOf(repo: string): Blob[] {
    return this.blobs.filter((b) => b.repo === repo);
  }

  manifestsOf(repo: string): Manifest[] {
    return this.manifests.filter((m) => m.repo === repo);
  }

  /** A free session, lent until given back; null when none is free. */
  checkout(rng: Rng): Session | null {
    const free = this.sessions.filter((s) => !s.busy);
    if (free.length === 0) return null;
    const s = rng.pick(free);
    s.busy = true;
    return s;
  }

  /** Gives a session back; `retire`: it is gone, or its state is unknown (the request was cut off). */
  giveBack(s: Session, retire: boolean): void {
    s.busy = false;
    const at = this.sessions.indexOf(s);
    if (retire && at >= 0) this.sessions.splice(at, 1);
  }

  addSession(repo: string, id: string, location: string): void {
    if (this.sessions.length < MAX_SESSIONS) this.sessions.push({ repo, id, location, data: Buffer.alloc(0), busy: false });
  }

  get sessionCount(): number {
    return this.sessions.length;
  }
}
