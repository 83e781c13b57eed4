// An honest client (fetch) for what the fuzzer needs to go right: seeding the
// registry with content to aim at, getting a token in token mode, and the push
// and pull round trip that proves the registry still works afterwards.
import { createHash } from 'node:crypto';

export interface Credentials {
  username: string;
  password: string;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export class HonestClient {
  /** Bearer token sent with every request (token mode); null when the registry is open. */
  token: string | null = null;

  readonly base: string;

  constructor(base: string) {
    this.base = base;
  }

  async request(method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Response> {
    const url = /^https?:/.test(path) ? path : `${this.base}${path}`;
    const h: Record<string, string> = { ...headers };
    if (this.token !== null && h['authorization'] === undefined) h['authorization'] = `Bearer ${this.token}`;
    const init: RequestInit = { method, headers: h, redirect: 'manual' };
    if (body !== undefined) init.body = typeof body === 'string' ? body : new Uint8Array(body);
    return fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  }

  /** Fails with the status and body when the answer is not the one expected. */
  async expect(res: Response, status: number, what: string): Promise<Buffer> {
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${body.toString('utf8').slice(0, 300)}`);
    return body;
  }

  async pushBlob(repo: string, data: Buffer): Promise<string> {
    const digest = sha256(data);
    const res = await this.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, data, { 'content-type': 'application/octet-stream' });
    if (res.status === 201) {
      await res.arrayBuffer();
      return digest;
    }
    // a registry without monolithic POST answers 202 with a session: finish it with PUT
    const location = res.headers.get('location');
    await this.expect(res, 202, `POST upload of ${digest} to ${repo}`);
    const put = await this.request('PUT', withQuery(location as string, `digest=${digest}`), data, { 'content-type': 'application/octet-stream' });
    await this.expect(put, 201, `PUT upload of ${digest} to ${repo}`);
    return digest;
  }

  async pushManifest(repo: string, ref: string, body: string, mediaType: string): Promise<string> {
    const res = await this.request('PUT', `/v2/${repo}/manifests/${ref}`, body, { 'content-type': mediaType });
    await this.expect(res, 201, `PUT manifest ${repo}:${ref}`);
    return sha256(body);
  }

  /**
   * A token for these scopes, from the realm the registry's challenge names, with
   * the credentials when given (else anonymous); null when the registry is open.
   */
  async login(creds: Credentials | null, scopes: readonly string[]): Promise<string | null> {
    const probe = await this.request('GET', '/v2/', undefined, { authorization: '' });
    await probe.arrayBuffer();
    if (probe.status !== 401) return null;
    const challenge = probe.headers.get('www-authenticate') ?? '';
    const realm = /realm="([^"]*)"/.exec(challenge)?.[1];
    const service = /service="([^"]*)"/.exec(challenge)?.[1] ?? '';
    if (!realm) throw new Error(`the registry asks for credentials without a Bearer realm: ${challenge}`);
    const q = new URLSearchParams({ service });
    for (const s of scopes) q.append('scope', s);
    const headers: Record<string, string> = {};
    if (creds) headers['authorization'] = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    const res = await fetch(`${realm}?${q.toString()}`, { headers, signal: AbortSignal.timeout(30_000) });
    const body = (await res.json()) as { token?: string };
    if (res.status !== 200 || !body.token) throw new Error(`token endpoint answered ${res.status}`);
    return body.token;
  }
}

/** A session Location with a query parameter added (distribution's Locations carry their own). */
export function withQuery(location: string, param: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}${param}`;
}
