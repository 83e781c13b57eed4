// The UI's calls to its JSON API (/ui/api/). The session rides in an HttpOnly
// cookie the scripts never see; state-changing calls echo the CSRF cookie in a header.

export class ApiError extends Error {
  status: number;
  code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function csrfToken(): string {
  const m = /(?:^|;\s*)bollard_csrf=([^;]*)/.exec(document.cookie);
  return m ? (m[1] as string) : '';
}

function describe(body: unknown, status: number): ApiError {
  const e = (body as { errors?: Array<{ code?: string; message?: string; detail?: unknown }> } | null)?.errors?.[0];
  if (!e) return new ApiError(status, 'UNKNOWN', `The registry answered ${status}.`);
  const detail = typeof e.detail === 'string' ? e.detail : '';
  const message = detail || e.message || e.code || `error ${status}`;
  return new ApiError(status, e.code ?? 'UNKNOWN', message.charAt(0).toUpperCase() + message.slice(1));
}

type Params = Record<string, string | null | undefined>;

function urlOf(path: string, params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, v);
  return `/ui/api/${path}${q.size > 0 ? `?${q}` : ''}`;
}

const early = new Map<string, Promise<unknown>>();

/** Starts a GET now (the first view's data, alongside the session); the next api() call for it takes the answer. */
export function prefetch(path: string, params: Params): void {
  const url = urlOf(path, params);
  const p = api(path, params);
  p.catch(() => undefined); // its taker sees the error; until then it is not unhandled
  early.set(url, p);
}

export async function api<T>(path: string, params: Params = {}, method = 'GET', body?: unknown): Promise<T> {
  const url = urlOf(path, params);
  const waiting = method === 'GET' ? early.get(url) : undefined;
  if (waiting) {
    early.delete(url);
    return waiting as Promise<T>;
  }
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-Bollard-CSRF'] = csrfToken();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(url, { method, headers, credentials: 'same-origin', body: body === undefined ? null : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The registry cannot be reached. Check your connection and try again.');
  }
  const json: unknown = await res.json().catch(() => null);
  if (!res.ok) throw describe(json, res.status);
  return json as T;
}

export interface Session {
  auth: 'none' | 'token';
  user: string | null;
  admin: boolean;
  registry: string;
  deleteEnabled: boolean;
}
