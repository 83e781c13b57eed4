// An in-process registry with token auth on: real PostgreSQL (a fresh database),
// filesystem storage in a temp dir, the app built by createApp with an Auth.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import type { DatabasePool } from 'slonik';
import request from 'supertest';
import { createApp } from '../../src/app.ts';
import { hashPassword } from '../../src/auth/password.ts';
import { createAuth, type Auth } from '../../src/auth/service.ts';
import { loadConfig } from '../../src/config/index.ts';
import { authConfig } from '../../src/config/runtime.ts';
import { addGrant } from '../../src/db/grants.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openPool } from '../../src/db/pool.ts';
import { insertUser } from '../../src/db/users.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { createTestDatabase } from '../support/db.ts';
import { DEFAULT_OPTIONS } from '../support/registry.ts';

const loadAuthConfig = (env: NodeJS.ProcessEnv) => authConfig(loadConfig(env));

export const ADMIN_PASSWORD = 'admin-secret-1';

export interface AuthRegistry {
  app: Express;
  pool: DatabasePool;
  auth: Auth;
  databaseUrl: string;
  close(): Promise<void>;
}

export async function createAuthRegistry(env: Record<string, string> = {}, log: Logger = createLogger('silent')): Promise<AuthRegistry> {
  const db = await createTestDatabase();
  const pool = await openPool(db.url, { maximumPoolSize: 5 });
  await migrate(pool);
  const storageDir = await mkdtemp(join(tmpdir(), 'bollard-auth-store-'));
  const store = new FsBlobStore(storageDir);
  await store.init();
  const config = loadAuthConfig({ BOLLARD_AUTH: 'token', BOLLARD_ADMIN_PASSWORD: ADMIN_PASSWORD, ...env });
  const { trustProxy } = loadConfig({ BOLLARD_TRUST_PROXY: env['BOLLARD_TRUST_PROXY'] ?? '' }).http;
  const auth = await createAuth(pool, config, log).catch(async (err: unknown) => {
    await pool.end();
    await db.drop();
    await rm(storageDir, { recursive: true, force: true });
    throw err;
  });
  const app = createApp({ pool, store, log, options: DEFAULT_OPTIONS, auth, ...(trustProxy !== undefined ? { trustProxy } : {}) });
  return {
    app,
    pool,
    auth,
    databaseUrl: db.url,
    close: async () => {
      await pool.end();
      await db.drop();
      await rm(storageDir, { recursive: true, force: true });
    },
  };
}

export async function addUser(pool: DatabasePool, name: string, password: string, grants: Array<[string, string[]]>): Promise<void> {
  await insertUser(pool, name, await hashPassword(password));
  for (const [glob, actions] of grants) await addGrant(pool, `user:${name}`, glob, actions);
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** A token from GET /token for the scopes, as a client would fetch it. */
export async function fetchToken(app: Express, creds: [string, string] | null, scopes: string[]): Promise<string> {
  let req = request(app).get('/token').query({ service: 'bollard' });
  for (const s of scopes) req = req.query(`scope=${encodeURIComponent(s)}`);
  if (creds) req = req.set('Authorization', basic(...creds));
  const res = await req;
  if (res.status !== 200) throw new Error(`token: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { token: string }).token;
}

/** Parses `Bearer k="v",k2="v2"` into its parameters. */
export function challenge(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header?.startsWith('Bearer ')) return out;
  for (const m of header.slice(7).matchAll(/(\w+)="([^"]*)"/g)) out[m[1] as string] = m[2] as string;
  return out;
}
