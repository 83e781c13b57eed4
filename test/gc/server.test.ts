// The collector as users run it: in the background of `bollard serve` (its passes
// visible in the log), and as `bollard gc` / `bollard scrub` commands.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { randomBlob, type Blob } from '../support/fixtures.ts';
import { startServer, type ServerProcess } from '../support/server.ts';

const BIN = fileURLToPath(new URL('../../bin/bollard.js', import.meta.url));
let server: ServerProcess | null = null;
afterEach(async () => {
  await server?.destroy();
  server = null;
});

async function push(url: string, repo: string, b: Blob): Promise<void> {
  const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${b.digest}`, { method: 'POST', body: b.data, headers: { 'Content-Type': 'application/octet-stream' } });
  expect(res.status).toBe(201);
}

const head = async (url: string, repo: string, b: Blob) => (await fetch(`${url}/v2/${repo}/blobs/${b.digest}`, { method: 'HEAD' })).status;

it('the server collects in the background and logs each pass', async () => {
  server = await startServer({ env: { BOLLARD_GC_REVIEW_DELAY: '0', BOLLARD_GC_INTERVAL: '1' } });
  const b = randomBlob();
  await push(server.url, 'bg', b);
  const logged = /"msg":"gc pass".*"links":1,"blobs":1/;
  const status = /"msg":"gc status".*"backlog":\{"manifests":\d+,"links":\d+,"blobs":\d+,"fences":0,"pins":\d+\}/;
  const deadline = Date.now() + 20_000;
  while (!(logged.test(server.output()) && status.test(server.output())) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  expect(server.output()).toMatch(logged);
  expect(server.output()).toMatch(status);
  expect(await head(server.url, 'bg', b)).toBe(404);
});

it('bollard gc --dry-run reports, bollard gc collects, bollard scrub checks', async () => {
  server = await startServer({ env: { BOLLARD_GC: 'off' } });
  const b = randomBlob(777);
  await push(server.url, 'cli', b);
  const env = { ...process.env, ...server.storageEnv, DATABASE_URL: server.databaseUrl, BOLLARD_DATA_DIR: server.dataDir, BOLLARD_GC_REVIEW_DELAY: '0', BOLLARD_LOG_LEVEL: 'warn' };
  const run = async (...args: string[]) => (await promisify(execFile)(process.execPath, [BIN, ...args], { env })).stdout;

  const dry = JSON.parse(await run('gc', '--dry-run', '--json')) as { deleted: Array<{ target: string }>; bytesFreed: number; dryRun: boolean };
  expect(dry).toMatchObject({ dryRun: true, bytesFreed: 777 });
  expect(dry.deleted.map((d) => d.target).sort()).toEqual(['blob', 'link']);
  expect(await head(server.url, 'cli', b)).toBe(200);

  expect(await run('scrub')).toContain('checked 1 blobs (777 bytes), 0 damaged');
  expect(await run('gc')).toMatch(/deleted link cli@sha256:[0-9a-f]{64}\ndeleted blob sha256:[0-9a-f]{64}\n2 deleted, 777 bytes freed/);
  expect(await head(server.url, 'cli', b)).toBe(404);
  await expect(run('gc', '--bogus')).rejects.toMatchObject({ code: 2 });
});
