// Requests to an upstream registry: anonymous, Basic, or the bearer-token flow
// (a 401 names realm, service and scope; the token is fetched from the realm and
// cached until it expires). Every failure becomes a RegistryError the client can
// be shown; credentials never appear in an error or a log line.
import type { Readable } from 'node:stream';
import { RegistryError } from '../../errors/codes.ts';
import type { UpstreamOptions } from './options.ts';
import { NoAnswer, readText, Transport } from './transport.ts';

export interface UpstreamResponse {
  status: number;
  headers: Headers;
  /** Null for HEAD; read it before the idle timer (`stall`) fires. */
  body: Readable | null;
  /** Aborts the request, e.g. when the body stalls. */
  abort(reason: Error): void;
  /** The upstream's timeout: also how long its body may stall (stallGuard). */
  timeoutMs: number;
}

/**
 * Aborts the response when its body stalls for the upstream's timeout: a large
 * blob may take long, but its bytes must keep coming. `touch` on every chunk,
 * `stop` once the body is read.
 */
export function stallGuard(res: UpstreamResponse): { touch(): void; stop(): void } {
  let timer: NodeJS.Timeout | null = null;
  const touch = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => res.abort(new Error(`no bytes for ${res.timeoutMs} ms`)), res.timeoutMs);
  };
  touch();
  return { touch, stop: () => { if (timer) clearTimeout(timer); } };
}

interface CachedToken {
  token: string;
  expires: number;
}

/** Seconds before its expiry a token is no longer used: a request may take that long. */
const TOKEN_MARGIN_S = 10;
/** A token service's answer is a few KiB; more is not read. */
const TOKEN_BODY_LIMIT = 1 << 20;

export class UpstreamClient {
  readonly options: UpstreamOptions;
  private readonly timeoutMs: number;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly transport = new Transport();
  /** Set once the upstream asked for Basic: later requests send it at once. */
  private basic = false;

  constructor(options: UpstreamOptions, timeoutMs: number) {
    this.options = options;
    this.timeoutMs = timeoutMs;
  }

  /** GET or HEAD of /v2/<remote>/<path>; answers whatever status the upstream gives after auth. */
  async request(method: 'GET' | 'HEAD', remote: string, path: string, accept?: string): Promise<UpstreamResponse> {
    const url = `${this.options.url.replace(/\/+$/, '')}/v2/${remote}/${path}`;
    const scope = `repository:${remote}:pull`;
    const headers: Record<string, string> = accept ? { Accept: accept } : {};
    let res = await this.send(method, url, { ...headers, ...this.authorization(scope) });
    if (res.status === 401) {
      const challenge = res.headers.get('www-authenticate') ?? '';
      res.abort(new Error('not read'));
      if (!(await this.answer(challenge, scope))) throw new RegistryError('DENIED', `upstream ${this.options.prefix} refused anonymous access`);
      res = await this.send(method, url, { ...headers, ...this.authorization(scope) });
      if (res.status === 401 || res.status === 403) {
        res.abort(new Error('not read'));
        throw new RegistryError('DENIED', `upstream ${this.options.prefix} refused the configured credentials`);
      }
    }
    return res;
  }

  private authorization(scope: string): Record<string, string> {
    const cached = this.tokens.get(scope);
    if (cached && cached.expires > Date.now()) return { Authorization: `Bearer ${cached.token}` };
    if (this.basic && this.options.username !== undefined) return { Authorization: `Basic ${this.basicCredentials()}` };
    return {};
  }

  private basicCredentials(): string {
    return Buffer.from(`${this.options.username ?? ''}:${this.options.password ?? ''}`).toString('base64');
  }

  /** Meets a 401's challenge; false when there is nothing to answer it with. */
  private async answer(challenge: string, scope: string): Promise<boolean> {
    const scheme = challenge.split(' ', 1)[0]?.toLowerCase();
    if (scheme === 'basic') {
      if (this.options.username === undefined) return false;
      this.basic = true;
      return true;
    }
    if (scheme !== 'bearer') return false;
    const params = challengeParams(challenge);
    if (!params.realm || !URL.canParse(params.realm)) return false;
    const realm = new URL(params.realm);
    if (params.service) realm.searchParams.set('service', params.service);
    realm.searchParams.set('scope', params.scope ?? scope);
    const auth: Record<string, string> = this.options.username !== undefined ? { Authorization: `Basic ${this.basicCredentials()}` } : {};
    const res = await this.send('GET', realm.toString(), auth);
    const text = await readText(res.body, TOKEN_BODY_LIMIT).catch((err: Error) => {
      throw new RegistryError('UNAVAILABLE', `upstream ${this.options.prefix}'s token service: ${err.message}`);
    });
    if (res.status !== 200) throw new RegistryError('DENIED', `upstream ${this.options.prefix}'s token service answered ${res.status}`);
    const body = parseJson(text) as { token?: unknown; access_token?: unknown; expires_in?: unknown } | null;
    const token = typeof body?.token === 'string' ? body.token : typeof body?.access_token === 'string' ? body.access_token : null;
    if (token === null) throw new RegistryError('UNAVAILABLE', `upstream ${this.options.prefix}'s token service gave no token`);
    const lifetime = typeof body?.expires_in === 'number' ? body.expires_in : 60; // the spec's default
    this.tokens.set(scope, { token, expires: Date.now() + Math.max(0, lifetime - TOKEN_MARGIN_S) * 1000 });
    return true;
  }

  /**
   * One request (redirects followed). The timeout covers the time to the response
   * headers only; the body has its own idle timer (the caller's), as a large blob
   * may take long but must never stall.
   */
  private async send(method: 'GET' | 'HEAD', url: string, headers: Record<string, string>): Promise<UpstreamResponse> {
    try {
      const res = await this.transport.send(method, url, headers, this.timeoutMs);
      return { ...res, timeoutMs: this.timeoutMs };
    } catch (err) {
      const reason = err instanceof NoAnswer ? err.message : describe(err);
      throw new RegistryError('UNAVAILABLE', `upstream ${this.options.prefix} unreachable: ${reason}`);
    }
  }
}

/** What a non-success upstream status becomes for the client. */
export function upstreamStatusError(prefix: string, status: number, headers: Headers, unknown: 'BLOB_UNKNOWN' | 'MANIFEST_UNKNOWN'): RegistryError {
  if (status === 404) return new RegistryError(unknown, `not found upstream (${prefix})`);
  if (status === 429) {
    const retry = retryAfterSeconds(headers.get('retry-after'));
    return new RegistryError('TOOMANYREQUESTS', `upstream ${prefix} is rate-limiting`, retry !== null ? { 'Retry-After': retry } : {});
  }
  return new RegistryError('UNAVAILABLE', `upstream ${prefix} answered ${status}`);
}

/**
 * An upstream's Retry-After as seconds: as given when it is seconds; an HTTP date
 * becomes the seconds left until it (by this host's clock, at least 0), so the
 * client need not trust that both clocks agree. Anything else is dropped.
 */
export function retryAfterSeconds(value: string | null): string | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d{1,9}$/.test(text)) return text;
  const at = Date.parse(text);
  if (Number.isNaN(at) || !/[a-z]/i.test(text)) return null;
  return String(Math.max(0, Math.ceil((at - Date.now()) / 1000)));
}

/** `Bearer realm="…",service="…",scope="…"` → its parameters. */
function challengeParams(challenge: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of challenge.matchAll(/([A-Za-z]+)="([^"]*)"/g)) out[(m[1] as string).toLowerCase()] = m[2] as string;
  return out;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The reason of a failed request (TLS, refused connection, DNS), without the URL's credentials. */
function describe(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : 'failed';
}
