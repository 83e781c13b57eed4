// What a registry client does in the storage faults, over plain fetch, each call
// returning what the client saw: status, headers, the OCI error codes, the time taken.
import { expect } from 'vitest';
import { blob, emptyConfig, imageManifest, OCI_MANIFEST, randomBlob, type Blob } from '../support/fixtures.ts';

export interface Seen {
  status: number;
  headers: Headers;
  codes: string[];
  ms: number;
  /** Where the upload session continues (Location), when the answer names one. */
  location: string | null;
}

async function call(url: string, init: RequestInit): Promise<Seen> {
  const t0 = performance.now();
  const res = await fetch(url, init);
  const text = await res.text();
  let codes: string[] = [];
  if (res.headers.get('content-type')?.startsWith('application/json')) {
    codes = ((JSON.parse(text) as { errors?: Array<{ code: string }> }).errors ?? []).map((e) => e.code);
  }
  return { status: res.status, headers: res.headers, codes, ms: Math.round(performance.now() - t0), location: res.headers.get('location') };
}

export class Client {
  readonly url: string;
  readonly repo: string;

  constructor(url: string, repo: string) {
    this.url = url;
    this.repo = repo;
  }

  monolithic(b: Blob): Promise<Seen> {
    return call(`${this.url}/v2/${this.repo}/blobs/uploads/?digest=${b.digest}`, { method: 'POST', body: b.data, headers: { 'Content-Type': 'application/octet-stream' } });
  }

  /** Opens a session; returns its path. */
  async open(): Promise<string> {
    const s = await call(`${this.url}/v2/${this.repo}/blobs/uploads/`, { method: 'POST' });
    expect(s.status, s.codes.join()).toBe(202);
    return s.location as string;
  }

  openSeen(): Promise<Seen> {
    return call(`${this.url}/v2/${this.repo}/blobs/uploads/`, { method: 'POST' });
  }

  patch(session: string, data: Buffer, start: number): Promise<Seen> {
    const headers = { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${start + data.length - 1}` };
    return call(`${this.url}${session}`, { method: 'PATCH', body: data, headers });
  }

  /** Completes a session, with an optional last chunk. */
  put(session: string, digest: string, last?: { data: Buffer; start: number }): Promise<Seen> {
    const sep = session.includes('?') ? '&' : '?';
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    if (last) headers['Content-Range'] = `${last.start}-${last.start + last.data.length - 1}`;
    return call(`${this.url}${session}${sep}digest=${digest}`, { method: 'PUT', ...(last ? { body: last.data } : {}), headers });
  }

  /** The session's offset, from its Range header ("0-0" is read as 0: these tests never stage a single byte). */
  async offset(session: string): Promise<number> {
    const s = await call(`${this.url}${session}`, { method: 'GET' });
    expect(s.status, s.codes.join()).toBe(204);
    const end = Number(/^0-(\d+)$/.exec(s.headers.get('range') ?? '')?.[1] ?? 0);
    return end === 0 ? 0 : end + 1;
  }

  async pull(digest: string): Promise<Seen & { data: Buffer }> {
    const t0 = performance.now();
    const res = await fetch(`${this.url}/v2/${this.repo}/blobs/${digest}`);
    const data = Buffer.from(await res.arrayBuffer());
    const json = res.headers.get('content-type')?.startsWith('application/json');
    const codes = json ? ((JSON.parse(data.toString()) as { errors?: Array<{ code: string }> }).errors ?? []).map((e) => e.code) : [];
    return { status: res.status, headers: res.headers, data, codes, ms: Math.round(performance.now() - t0), location: null };
  }

  putManifest(ref: string, m: Blob): Promise<Seen> {
    return call(`${this.url}/v2/${this.repo}/manifests/${ref}`, { method: 'PUT', body: m.data, headers: { 'Content-Type': OCI_MANIFEST } });
  }

  /** Pushes a small image (empty config, one layer) tagged `tag`; returns its layer. */
  async pushImage(tag: string, layerBytes = 64 * 1024): Promise<Blob> {
    const layer = randomBlob(layerBytes);
    for (const b of [emptyConfig, layer]) expect((await this.monolithic(b)).status).toBe(201);
    expect((await this.putManifest(tag, imageManifest(emptyConfig, [layer]))).status).toBe(201);
    return layer;
  }

  /** Pulls the blob back and compares its bytes. */
  async expectPulls(b: Blob): Promise<void> {
    const got = await this.pull(b.digest);
    expect(got.status, got.codes.join()).toBe(200);
    expect(blob(got.data).digest).toBe(b.digest);
  }
}

/** An OCI error as a client sees it: the status, a JSON body carrying the code, and for 503 a Retry-After. */
export function expectRefused(s: { status: number; codes: string[]; headers?: Headers }, status: 503 | 507, what: string): void {
  const code = status === 503 ? 'UNAVAILABLE' : 'INSUFFICIENT_STORAGE';
  expect({ what, status: s.status, codes: s.codes }).toEqual({ what, status, codes: [code] });
  if (status === 503 && s.headers) expect(s.headers.get('retry-after'), what).toMatch(/^\d+$/);
}
