// Minimal HTTP client for talking to an OCI registry: base-URL joining,
// Location resolution, and token/basic auth on 401 challenges.
import { Buffer } from 'node:buffer';

/** A request body: bytes (re-sendable) or a factory producing a fresh stream per attempt. */
export type BodySource = Uint8Array | string | (() => ReadableStream<Uint8Array>);

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: BodySource;
}

export interface HttpResponse {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
  /** Set when the status and headers arrived but reading the body failed (e.g. truncated). */
  readonly bodyError?: string;
}

/** One response seen by the client, kept so header checks can be run afterwards. */
export interface ObservedResponse {
  method: string;
  url: string;
  status: number;
  apiVersion: string | null;
}

export interface ClientOptions {
  baseUrl: string;
  username?: string;
  password?: string;
  timeoutMs?: number;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses a WWW-Authenticate header value (first challenge only). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = (m[1] ?? '').toLowerCase();
  const rest = m[2] ?? '';
  const params: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/g;
  let pm: RegExpExecArray | null;
  while ((pm = re.exec(rest)) !== null) {
    if (pm[0] === '') break;
    const key = (pm[1] ?? '').toLowerCase();
    const value = pm[2] !== undefined ? pm[2].replace(/\\(.)/g, '$1') : (pm[3] ?? '');
    params[key] = value;
  }
  return { scheme, params };
}

/** Appends query parameters to a URL string without re-encoding any existing query. */
export function withQuery(url: string, params: Record<string, string>): string {
  const hashAt = url.indexOf('#');
  const base = hashAt >= 0 ? url.slice(0, hashAt) : url;
  const parts = Object.entries(params).map(
    ([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`,
  );
  if (parts.length === 0) return base;
  const sep = base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?';
  return base + sep + parts.join('&');
}

/** Repository name addressed by a /v2/<name>/... path, or '' for other paths. */
function repoOf(pathname: string): string {
  const m = /\/v2\/(.+?)\/(?:manifests|blobs|tags|referrers)(?:\/|$)/.exec(pathname);
  return m?.[1] ?? '';
}

export class RegistryClient {
  readonly baseUrl: URL;
  /** Base path without trailing slash ('' for a registry at the root). */
  readonly basePath: string;
  readonly observed: ObservedResponse[] = [];
  private readonly username: string | undefined;
  private readonly password: string | undefined;
  private readonly timeoutMs: number;
  private readonly tokens = new Map<string, string>();
  private basicAuth: string | undefined;

  constructor(options: ClientOptions) {
    const base = new URL(options.baseUrl);
    base.search = '';
    base.hash = '';
    this.baseUrl = base;
    this.basePath = base.pathname.replace(/\/+$/, '');
    this.username = options.username;
    this.password = options.password;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Absolute URL for a registry path such as `/v2/`. */
  url(path: string): string {
    return this.baseUrl.origin + this.basePath + (path.startsWith('/') ? path : `/${path}`);
  }

  /** Resolves a Location (absolute URL, absolute path, or relative reference) against the request URL. */
  resolve(location: string, relativeTo: string): string {
    return new URL(location, relativeTo).href;
  }

  /** True when `url` belongs to the registry API under test (same origin, under <base>/v2). */
  isRegistryUrl(url: string): boolean {
    const u = new URL(url);
    return u.origin === this.baseUrl.origin && u.pathname.startsWith(`${this.basePath}/v2`);
  }

  async request(method: string, target: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const url = /^[a-z][a-z0-9+.-]*:/i.test(target) ? target : this.url(target);
    const key = repoOf(new URL(url).pathname);
    let res = await this.send(method, url, options, this.authFor(key));
    if (res.status === 401 && (await this.authenticate(res, key))) {
      res = await this.send(method, url, options, this.authFor(key));
    }
    return res;
  }

  private authFor(key: string): string | undefined {
    const token = this.tokens.get(key) ?? this.tokens.get('');
    if (token !== undefined) return `Bearer ${token}`;
    return this.basicAuth;
  }

  private basicCredentials(): string | undefined {
    if (this.username === undefined || this.username === '') return undefined;
    const raw = `${this.username}:${this.password ?? ''}`;
    return `Basic ${Buffer.from(raw, 'utf8').toString('base64')}`;
  }

  /** Handles a 401 challenge; returns true when a retry is worthwhile. */
  private async authenticate(res: HttpResponse, key: string): Promise<boolean> {
    const header = res.headers.get('www-authenticate');
    if (header === null) return false;
    const challenge = parseChallenge(header);
    if (challenge === undefined) return false;
    if (challenge.scheme === 'basic') {
      const basic = this.basicCredentials();
      if (basic === undefined || this.basicAuth === basic) return false;
      this.basicAuth = basic;
      return true;
    }
    if (challenge.scheme !== 'bearer') return false;
    const realm = challenge.params['realm'];
    if (realm === undefined) return false;
    const tokenUrl = new URL(realm, res.url);
    const service = challenge.params['service'];
    if (service !== undefined) tokenUrl.searchParams.append('service', service);
    const scope = challenge.params['scope'];
    if (scope !== undefined) {
      for (const s of scope.split(' ').filter((x) => x !== '')) tokenUrl.searchParams.append('scope', s);
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    const basic = this.basicCredentials();
    if (basic !== undefined) headers['authorization'] = basic;
    let tokenRes: Response;
    try {
      tokenRes = await fetch(tokenUrl, { headers, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch {
      return false;
    }
    if (tokenRes.status !== 200) return false;
    let body: unknown;
    try {
      body = await tokenRes.json();
    } catch {
      return false;
    }
    if (typeof body !== 'object' || body === null) return false;
    const rec = body as Record<string, unknown>;
    const token = typeof rec['token'] === 'string' ? rec['token'] : rec['access_token'];
    if (typeof token !== 'string' || token === '') return false;
    this.tokens.set(key, token);
    return true;
  }

  private async send(
    method: string,
    url: string,
    options: RequestOptions,
    authorization: string | undefined,
  ): Promise<HttpResponse> {
    const headers = new Headers(options.headers ?? {});
    if (!headers.has('accept-encoding')) headers.set('accept-encoding', 'identity');
    if (authorization !== undefined && !headers.has('authorization')) headers.set('authorization', authorization);
    const init: RequestInit = {
      method,
      headers,
      redirect: method === 'GET' || method === 'HEAD' ? 'follow' : 'manual',
      signal: AbortSignal.timeout(this.timeoutMs),
    };
    const src = options.body;
    if (typeof src === 'function') {
      init.body = src();
      init.duplex = 'half';
    } else if (src !== undefined) {
      init.body = typeof src === 'string' ? src : new Uint8Array(src);
    }
    let raw: Response;
    try {
      raw = await fetch(url, init);
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
      throw new Error(`${method} ${url} failed: ${err instanceof Error ? err.message : String(err)}${cause}`);
    }
    let body = Buffer.alloc(0);
    let bodyError: string | undefined;
    try {
      if (method === 'HEAD') await raw.body?.cancel();
      else body = Buffer.from(await raw.arrayBuffer());
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
      bodyError = `${err instanceof Error ? err.message : String(err)}${cause}`;
    }
    const finalUrl = raw.url !== '' ? raw.url : url;
    const res: HttpResponse = {
      method,
      url: finalUrl,
      status: raw.status,
      headers: raw.headers,
      body,
      ...(bodyError !== undefined ? { bodyError } : {}),
    };
    if (this.isRegistryUrl(finalUrl)) {
      this.observed.push({
        method,
        url: finalUrl,
        status: raw.status,
        apiVersion: raw.headers.get('docker-distribution-api-version'),
      });
    }
    return res;
  }
}
