// Runs `bollard serve` as a real child process (the way users run it), on a free
// port, with its own data directory and a database of the run's PostgreSQL.
// With BOLLARD_TEST_STORAGE=s3 its blobs go to the run's S3 bucket, under a prefix
// named after the data directory (so a restarted or second server shares them).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { authServerEnv } from './auth-mode.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { freePort } from './ports.ts';
import { prefixContents, requireS3, testStorageKind } from './stores.ts';

const BIN = fileURLToPath(new URL('../../bin/bollard.js', import.meta.url));

export interface ServerProcess {
  url: string;
  /** host:port, as clients such as skopeo want it */
  hostPort: string;
  dataDir: string;
  databaseUrl: string;
  /** The storage settings the server runs with, for operator commands run beside it. */
  storageEnv: Record<string, string>;
  db: TestDatabase;
  /** SIGTERM and wait for a clean exit; the data and database stay. */
  stop(): Promise<number | null>;
  /** Kills the process with SIGKILL (a crash) and waits until it is gone; the data and database stay. */
  crash(): Promise<void>;
  /** Whether the process is still running. */
  alive(): boolean;
  /** Stop (if running) and remove the data directory and the database. */
  destroy(): Promise<void>;
  output(): string;
}

export interface ServerOptions {
  env?: Record<string, string>;
  /** Reuse the data directory and database of an earlier server (restart tests). */
  reuse?: { dataDir: string; db: TestDatabase };
}

export async function startServer(opts: ServerOptions = {}): Promise<ServerProcess> {
  const db = opts.reuse?.db ?? (await createTestDatabase());
  const dataDir = opts.reuse?.dataDir ?? (await mkdtemp(join(tmpdir(), 'bollard-test-data-')));
  const port = await freePort();
  const storage = storageEnv(dataDir);
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      ...process.env,
      BOLLARD_LISTEN: `127.0.0.1:${port}`,
      BOLLARD_DATA_DIR: dataDir,
      DATABASE_URL: db.url,
      BOLLARD_LOG_LEVEL: 'info',
      ...storage.env,
      ...authServerEnv(),
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  await waitForListening(child, () => log);
  const url = `http://127.0.0.1:${port}`;
  const stop = () => stopChild(child);
  return {
    url,
    hostPort: `127.0.0.1:${port}`,
    dataDir,
    databaseUrl: db.url,
    storageEnv: storage.env,
    db,
    stop,
    crash: () => crashChild(child),
    alive: () => child.exitCode === null && child.signalCode === null,
    output: () => log,
    destroy: async () => {
      await stop();
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
      await storage.destroy();
    },
  };
}

/** The server's storage settings and how to empty its storage afterwards. */
function storageEnv(dataDir: string): { env: Record<string, string>; destroy(): Promise<void> } {
  if (testStorageKind() !== 's3') return { env: {}, destroy: async () => undefined };
  const s3 = requireS3();
  const prefix = `server-${basename(dataDir)}/`;
  return {
    env: {
      BOLLARD_STORAGE: 's3',
      BOLLARD_S3_ENDPOINT: s3.endpoint,
      BOLLARD_S3_BUCKET: s3.bucket,
      BOLLARD_S3_REGION: s3.region,
      BOLLARD_S3_FORCE_PATH_STYLE: 'true',
      BOLLARD_S3_PREFIX: prefix,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    },
    destroy: () => prefixContents(s3, prefix).destroy(),
  };
}

function waitForListening(child: ChildProcess, log: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${log()}`)), 60_000);
    const check = () => {
      if (log().includes('"bollard listening"')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${log()}`));
    });
  });
}

function crashChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

function stopChild(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(kill);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}
