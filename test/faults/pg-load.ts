// A push and pull load over real TCP: each worker pushes a layer (monolithic
// POST), then an image manifest naming it under a new tag, then pulls a random
// image pushed earlier by any worker and checks its digests. Every request is
// bounded by a timeout and recorded with what a client sees: status, Retry-After,
// the OCI error codes, the time it took. Like a client, a worker waits a little
// after a refusal instead of hammering.
import { randomInt } from 'node:crypto';
import { blob, emptyConfig, imageManifest, OCI_MANIFEST, randomBlob, sha256, type Blob } from '../support/fixtures.ts';

export const REQUEST_TIMEOUT_MS = 10_000;

export interface Sample {
  op: string;
  at: number;
  ms: number;
  /** null when no response came (timeout, reset) */
  status: number | null;
  retryAfter: string | null;
  json: boolean;
  codes: string[];
  error?: string;
}

export interface PushedImage {
  repo: string;
  tag: string;
  manifest: Blob;
  layer: Blob;
}

export class Load {
  readonly samples: Sample[] = [];
  readonly pushed: PushedImage[] = [];
  private stopped = false;
  private workers: Promise<void>[] = [];
  private readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  start(workers: number): this {
    for (let i = 0; i < workers; i++) this.workers.push(this.work(i));
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.workers);
  }

  /** Time of the first successful push (manifest 201) that began after `t`, or null. */
  firstPushAfter(t: number): number | null {
    const s = this.samples.find((x) => x.op === 'put manifest' && x.status === 201 && x.at - x.ms >= t);
    return s ? s.at : null;
  }

  /** Responses a client must never get from a registry whose database is down: anything but 2xx or a proper 503. */
  improper(): Sample[] {
    return this.samples.filter((s) => {
      if (s.status !== null && s.status < 300) return !!s.error;
      return !(s.status === 503 && s.retryAfter !== null && s.json && s.codes.includes('UNAVAILABLE'));
    });
  }

  summary(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.samples) {
      const k = s.status === null ? 'no response' : String(s.status);
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  }

  private async work(i: number): Promise<void> {
    const repo = `faults/w${i}`;
    // a config of its own: concurrent first pushes of one blob into several
    // repositories are another fault (a rare unique violation), not this suite's
    const config = blob(`{"worker":${i}}`);
    let configPushed = false;
    for (let n = 0; !this.stopped; n++) {
      if (!configPushed) configPushed = await this.pushBlob(repo, config);
      const layer = randomBlob(randomInt(4096, 65536));
      if (configPushed && (await this.pushBlob(repo, layer))) {
        const manifest = imageManifest(config, [layer]);
        const tag = `t${n}`;
        const put = await this.call('put manifest', 'PUT', `/v2/${repo}/manifests/${tag}`, manifest.data, OCI_MANIFEST);
        if (put.status === 201) this.pushed.push({ repo, tag, manifest, layer });
      }
      await this.pullOne();
    }
  }

  private async pushBlob(repo: string, b: Blob): Promise<boolean> {
    const r = await this.call('push blob', 'POST', `/v2/${repo}/blobs/uploads/?digest=${b.digest}`, b.data, 'application/octet-stream');
    return r.status === 201;
  }

  private async pullOne(): Promise<void> {
    const img = this.pushed[randomInt(0, Math.max(1, this.pushed.length))];
    if (!img) return;
    const m = await this.call('get manifest', 'GET', `/v2/${img.repo}/manifests/${img.tag}`);
    if (m.status === 200) this.expectDigest(m, img.manifest.digest);
    const b = await this.call('get blob', 'GET', `/v2/${img.repo}/blobs/${img.layer.digest}`);
    if (b.status === 200) this.expectDigest(b, img.layer.digest);
  }

  private expectDigest(r: { sample: Sample; body: Buffer }, digest: string): void {
    if (sha256(r.body) !== digest) r.sample.error = `body digest ${sha256(r.body)}, expected ${digest}`;
  }

  private async call(op: string, method: string, path: string, body?: Buffer, type?: string): Promise<{ status: number | null; sample: Sample; body: Buffer }> {
    const t0 = Date.now();
    const sample: Sample = { op, at: t0, ms: 0, status: null, retryAfter: null, json: false, codes: [] };
    let data = Buffer.alloc(0);
    try {
      const res = await fetch(`${this.url}${path}`, {
        method,
        ...(body ? { body, headers: { 'Content-Type': type as string } } : {}),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      data = Buffer.from(await res.arrayBuffer());
      sample.status = res.status;
      sample.retryAfter = res.headers.get('retry-after');
      sample.json = /^application\/json/.test(res.headers.get('content-type') ?? '');
      if (res.status >= 400 && sample.json) sample.codes = errorCodes(data);
    } catch (err) {
      sample.error = `${(err as Error).name}: ${(err as Error).message}`;
    }
    sample.at = Date.now();
    sample.ms = sample.at - t0;
    this.samples.push(sample);
    if (sample.status === null || sample.status >= 300) await new Promise((r) => setTimeout(r, 50));
    return { status: sample.status, sample, body: data };
  }
}

function errorCodes(body: Buffer): string[] {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: unknown }> };
    return (parsed.errors ?? []).map((e) => String(e.code));
  } catch {
    return [];
  }
}

/** One small image, for a test that only needs something to pull back later. */
export function smallImage(repo: string, tag: string): PushedImage {
  const layer = blob(`layer of ${repo}:${tag} ${Date.now()}`);
  return { repo, tag, layer, manifest: imageManifest(emptyConfig, [layer]) };
}
