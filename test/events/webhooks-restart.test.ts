// Webhooks through the real process: endpoints managed with `bollard webhooks`,
// the server's worker on by default, and events undelivered when the server
// stops are delivered by the next one.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, expect, test } from 'vitest';
import { startServer, type ServerProcess } from '../support/server.ts';
import { eventually, startReceiver, type Receiver } from './receiver.ts';

const BIN = fileURLToPath(new URL('../../bin/bollard.js', import.meta.url));
const FAST = { BOLLARD_WEBHOOK_POLL_MS: '50', BOLLARD_WEBHOOK_BACKOFF_MS: '50', BOLLARD_WEBHOOK_BACKOFF_MAX_MS: '300', BOLLARD_WEBHOOK_METRICS_MS: '200' };

const servers: ServerProcess[] = [];
let receiver: Receiver | undefined;
afterAll(async () => {
  for (const s of servers.slice(1)) await s.stop();
  await servers[0]?.destroy();
  await receiver?.close();
});

async function countEvents(url: string, repository: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query('SELECT count(*) AS n FROM events WHERE repository = $1', [repository])).rows[0].n);
  } finally {
    await client.end();
  }
}

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function pushImage(base: string, repo: string, tag: string): Promise<void> {
  const config = Buffer.from('{}');
  const layer = randomBytes(100);
  for (const blob of [config, layer]) {
    const res = await fetch(`${base}/v2/${repo}/blobs/uploads/?digest=${digestOf(blob)}`, { method: 'POST', body: blob });
    expect(res.status).toBe(201);
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digestOf(layer), size: layer.length }],
  });
  const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  expect(res.status).toBe(201);
}

test('events left undelivered when the server stops all arrive from the next one', async () => {
  receiver = await startReceiver();
  receiver.respond = () => 503; // the receiver is down at first
  const first = await startServer({ env: FAST });
  servers.push(first);
  const env = { ...process.env, DATABASE_URL: first.databaseUrl, BOLLARD_DATA_DIR: first.dataDir };
  const run = (...args: string[]) => promisify(execFile)(process.execPath, [BIN, 'webhooks', ...args], { env });
  expect((await run('add', receiver.url, '--secret', 'restart-secret-1', '--repository', 'restart/**')).stdout).toBe(`added webhook 1 -> ${receiver.url}\n`);
  await expect(run('add', 'ftp://example.com/', '--secret', 'restart-secret-1')).rejects.toMatchObject({ code: 2 });
  await expect(run('add', receiver.url, '--secret', 'short')).rejects.toMatchObject({ code: 2 });

  for (const tag of ['v1', 'v2', 'v3']) await pushImage(first.url, 'restart/app', tag);
  await pushImage(first.url, 'elsewhere/app', 'v1');
  await eventually(() => receiver?.requests.length !== undefined && receiver.requests.length >= 3, 20_000, 'failed attempts');
  await eventually(() => /"msg":"webhook metrics".*"failed":[1-9]/.test(first.output()), 20_000, 'a metrics line');
  expect((await run('list')).stdout).toMatch(new RegExp(`^1\\t${receiver.url}\\trepository=restart/\\*\\*\\tevents=\\*\\tenabled\\tpending=\\d+\\n$`));
  expect(await first.stop()).toBe(0);

  receiver.respond = () => 200;
  const second = await startServer({ env: FAST, reuse: { dataDir: first.dataDir, db: first.db } });
  servers.push(second);
  const committed = await countEvents(first.databaseUrl, 'restart/app');
  expect(committed).toBeGreaterThanOrEqual(9);
  let journal: { events: Array<{ id: number }> } = { events: [] };
  await eventually(async () => {
    journal = (await (await fetch(`${second.url}/admin/events?repository=restart/app&limit=1000`)).json()) as typeof journal;
    return journal.events.length === committed;
  }, 30_000, 'the journal to show every event');
  await eventually(() => receiver?.accepted.length === journal.events.length, 20_000, 'every event delivered');
  await new Promise((r) => setTimeout(r, 300));
  expect(receiver.accepted.map((r) => r.event.id)).toEqual(journal.events.map((e) => e.id));
  expect(receiver.requests.every((r) => r.event.repository === 'restart/app')).toBe(true);
  await eventually(() => /"msg":"webhook metrics".*"backlog":0/.test(second.output()), 20_000, 'an empty backlog in the metrics');
  expect((await run('list')).stdout).toMatch(/\tpending=0\n$/);
  expect((await run('remove', '1')).stdout).toBe('removed webhook 1\n');
  expect((await run('list')).stdout).toBe('');
  await expect(run('remove', '1')).rejects.toMatchObject({ code: 2 });
});

test('BOLLARD_WEBHOOKS=off starts no worker', async () => {
  const base = servers[0] as ServerProcess;
  const off = await startServer({ env: { ...FAST, BOLLARD_WEBHOOKS: 'off' }, reuse: { dataDir: base.dataDir, db: base.db } });
  servers.push(off);
  expect(off.output()).toMatch(/"msg":"bollard listening".*"webhooks":false/);
  await new Promise((r) => setTimeout(r, 400));
  expect(off.output()).not.toContain('webhook metrics');
});
