// A token-aware client in front of an app with token auth on, for running the
// HTTP suite unchanged in token mode. Each /v2 request that carries no
// Authorization is first sent without a body, which the registry answers with a
// 401 challenge before touching anything; the client then fetches a token for the
// challenged scope (the refresh-token grant of the admin's login, cached per
// scope) and passes the original request on with it, as docker and skopeo do.
import type { Server } from 'node:http';
import express, { type Express } from 'express';
import { TEST_ADMIN } from './auth-mode.ts';

const TOKEN_REUSE_MS = 120_000; // well inside the 300 s token lifetime

export interface TokenClient {
  app: Express;
  close(): Promise<void>;
}

export function tokenClient(registry: Express): TokenClient {
  let server: Server | null = null;
  let base: Promise<string> | null = null;
  let refresh: Promise<string> | null = null;
  const tokens = new Map<string, { token: Promise<string>; at: number }>();

  const origin = () =>
    (base ??= new Promise((resolve) => {
      server = registry.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server?.address() as { port: number }).port}`));
    }));

  async function refreshToken(): Promise<string> {
    const basic = Buffer.from(`${TEST_ADMIN.username}:${TEST_ADMIN.password}`).toString('base64');
    const res = await fetch(`${await origin()}/token?offline_token=true&service=bollard`, { headers: { authorization: `Basic ${basic}` } });
    if (res.status !== 200) throw new Error(`token client: admin login answered ${res.status}`);
    return ((await res.json()) as { refresh_token: string }).refresh_token;
  }

  async function fetchToken(scope: string): Promise<string> {
    refresh ??= refreshToken();
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: await refresh, service: 'bollard', client_id: 'bollard-tests', scope });
    const res = await fetch(`${await origin()}/token`, { method: 'POST', body: form });
    if (res.status !== 200) throw new Error(`token client: refresh grant answered ${res.status}`);
    return ((await res.json()) as { token: string }).token;
  }

  function tokenFor(scope: string): Promise<string> {
    const hit = tokens.get(scope);
    if (hit && Date.now() - hit.at < TOKEN_REUSE_MS) return hit.token;
    const token = fetchToken(scope);
    token.catch(() => tokens.delete(scope));
    tokens.set(scope, { token, at: Date.now() });
    return token;
  }

  /** The scope the registry challenges this request with, or null when it needs no token. */
  async function challengedScope(method: string, url: string): Promise<string | null> {
    const res = await fetch(`${await origin()}${url}`, { method, redirect: 'manual' });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status !== 401) return null;
    const header = res.headers.get('www-authenticate') ?? '';
    return /scope="([^"]*)"/.exec(header)?.[1] ?? '';
  }

  const app = express();
  app.use((req, res, next) => {
    if (req.headers.authorization !== undefined || !/^\/v2(\/|$)/i.test(req.path)) return registry(req, res, next);
    challengedScope(req.method, req.originalUrl)
      .then(async (scope) => {
        if (scope !== null) req.headers.authorization = `Bearer ${await tokenFor(scope)}`;
        registry(req, res, next);
      })
      .catch(next);
  });
  return {
    app,
    close: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
  };
}
