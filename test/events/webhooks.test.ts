// Webhook delivery from the outbox to a receiver on 127.0.0.1: exactly once when
// it is up, retried on errors and timeouts, signed, filtered, in commit order per
// repository, and never sent twice by two workers sharing one database.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { sql } from 'slonik';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { z } from 'zod';
import type { WebhookConfig } from '../../src/registry/events/webhooks.ts';
import { claimDeliveries, deleteEndpoint, insertEndpoint, markFailed, outboxBacklog } from '../../src/db/webhooks.ts';
import { globToRegex } from '../../src/shared/glob.ts';
import { createLogger } from '../../src/logger.ts';
import { startWebhookWorker, type WebhookWorker } from '../../src/registry/events/webhooks.ts';
import { pushBlob, pushManifest } from '../support/client.ts';
import { emptyConfig, imageManifest, OCI_MANIFEST, randomBlob } from '../support/fixtures.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { eventually, startReceiver, type Received, type Receiver } from './receiver.ts';

const SECRET = 'test-webhook-secret';
const FAST: WebhookConfig = { enabled: true, pollMs: 20, timeoutMs: 400, backoffMs: 30, backoffMaxMs: 200, concurrency: 8, metricsMs: 60_000 };

let reg: TestRegistry;
let receiver: Receiver;
let workers: WebhookWorker[] = [];
let endpoints: number[] = [];
beforeAll(async () => {
  reg = await createTestRegistry();
});
afterEach(async () => {
  for (const w of workers) await w.stop();
  for (const id of endpoints) await deleteEndpoint(reg.pool, id);
  await receiver?.close();
  workers = [];
  endpoints = [];
});
afterAll(() => reg?.close());

async function setup(opts: { workers?: number; config?: Partial<WebhookConfig>; glob?: string; kinds?: string[] } = {}): Promise<void> {
  receiver = await startReceiver();
  const repository = opts.glob ? { glob: opts.glob, regex: globToRegex(opts.glob) } : null;
  endpoints.push(await insertEndpoint(reg.pool, { url: receiver.url, secret: SECRET, repository, kinds: opts.kinds ?? null }));
  for (let i = 0; i < (opts.workers ?? 1); i++) workers.push(startWebhookWorker(reg.pool, { ...FAST, ...opts.config }, createLogger('silent')));
}

async function pushImage(repo: string, tag: string): Promise<void> {
  const layer = randomBlob(64);
  await pushBlob(reg.app, repo, emptyConfig);
  await pushBlob(reg.app, repo, layer);
  await pushManifest(reg.app, repo, tag, imageManifest(emptyConfig, [layer]), OCI_MANIFEST);
}

/**
 * The journal's events of a repository, as the admin API shows them, once it shows
 * every committed one (it holds events back while older transactions anywhere in
 * the cluster, such as other test files', are still running).
 */
async function journal(repository: string): Promise<Array<Received['event']>> {
  const committed = await reg.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*) AS n FROM events WHERE repository = ${repository}`);
  let events: Array<Received['event']> = [];
  await eventually(async () => {
    const res = await request(reg.app).get(`/admin/events?limit=1000&repository=${repository}`);
    events = res.body.events as Array<Received['event']>;
    return events.length === committed;
  }, 30_000, `the journal of ${repository}`);
  return events;
}

async function settled(): Promise<void> {
  await eventually(async () => (await outboxBacklog(reg.pool)) === 0, 30_000, 'an empty outbox');
  await new Promise((r) => setTimeout(r, 150)); // room for a duplicate to show up
}

function keys(list: Received[]): number[] {
  return list.map((r) => Number(r.headers['idempotency-key']));
}

function verifies(r: Received, secret: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(r.headers['bollard-signature']));
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${r.body}`).digest();
  return Math.abs(Date.now() / 1000 - Number(m[1])) < 300 && timingSafeEqual(expected, Buffer.from(m[2] as string, 'hex'));
}

test('a receiver that is up gets every event exactly once, signed, as the journal shows it', async () => {
  await setup();
  await pushImage('hooks/once', 'v1');
  await pushImage('hooks/once', 'v2');
  await settled();
  const events = await journal('hooks/once');
  expect(events.map((e) => e.kind)).toEqual(expect.arrayContaining(['manifest.push', 'tag.set']));
  expect(receiver.requests).toHaveLength(events.length);
  expect(keys(receiver.accepted)).toEqual(events.map((e) => e.id));
  for (const r of receiver.accepted) {
    expect(r.headers['content-type']).toBe('application/json');
    expect(verifies(r, SECRET)).toBe(true);
    expect(verifies(r, 'another-secret')).toBe(false);
    expect(verifies({ ...r, body: r.body.replace('hooks/once', 'hooks/evil') }, SECRET)).toBe(false);
  }
  expect(receiver.accepted.map((r) => r.event)).toEqual(events);
  expect(workers[0]?.metrics).toEqual({ delivered: events.length, failed: 0 });
  const rows = await reg.pool.any(sql.type(z.object({ attempts: z.number(), done: z.boolean() }))`
    SELECT attempts, delivered_at IS NOT NULL AS done FROM webhook_outbox WHERE endpoint_id = ${endpoints[0] as number}`);
  expect(rows).toHaveLength(events.length);
  expect(rows.every((r) => r.attempts === 1 && r.done)).toBe(true);
});

test('errors and timeouts are retried with backoff until delivered, keeping the order', async () => {
  await setup();
  receiver.respond = (_r, n) => (n <= 2 ? 500 : n === 3 ? 'hang' : 200);
  await pushImage('hooks/retry', 'v1');
  await settled();
  const events = await journal('hooks/retry');
  expect(keys(receiver.accepted)).toEqual(events.map((e) => e.id));
  const firstId = String(events[0]?.id);
  // the head of the repository's queue was tried four times (500, 500, timeout, 200) before the next one went out
  expect(keys(receiver.requests.slice(0, 4))).toEqual([firstId, firstId, firstId, firstId].map(Number));
  expect(workers[0]?.metrics.failed).toBe(3);
});

test('an endpoint gets only the repositories and kinds it asked for', async () => {
  await setup({ glob: 'hooks/filtered/*', kinds: ['tag.set'] });
  await pushImage('hooks/filtered/app', 'v1');
  await pushImage('hooks/filtered/deeper/app', 'v1');
  await pushImage('hooks/unrelated', 'v1');
  await settled();
  expect(receiver.accepted.map((r) => [r.event.kind, r.event.repository, r.event.tag])).toEqual([['tag.set', 'hooks/filtered/app', 'v1']]);
});

test('two workers under concurrent pushes to several repositories: each event once, in order per repository', async () => {
  await setup({ workers: 2, config: { concurrency: 3 } });
  const inFlight = new Set<string>();
  let overlapped = false;
  receiver.respond = async (r) => {
    const key = String(r.headers['idempotency-key']);
    if (inFlight.has(key)) overlapped = true;
    inFlight.add(key);
    await new Promise((res) => setTimeout(res, Math.random() * 15));
    inFlight.delete(key);
    return Math.random() < 0.2 ? 503 : 200;
  };
  const repos = ['hooks/order/a', 'hooks/order/b', 'hooks/order/c', 'hooks/order/d'];
  const TAGS = ['t0', 't1', 't2', 't3', 't4', 't5'];
  await Promise.all(repos.map(async (repo) => {
    for (const tag of TAGS) await pushImage(repo, tag);
  }));
  await settled();
  expect(overlapped).toBe(false);
  const accepted = keys(receiver.accepted);
  expect(new Set(accepted).size).toBe(accepted.length); // no double send
  for (const repo of repos) {
    const events = await journal(repo);
    const got = receiver.accepted.filter((r) => r.event.repository === repo);
    expect(got.map((r) => r.event.id)).toEqual(events.map((e) => e.id));
    expect(got.filter((r) => r.event.kind === 'tag.set').map((r) => r.event.tag)).toEqual(TAGS);
  }
  expect(workers[0]?.metrics.delivered).toBeGreaterThan(0);
  expect(workers[1]?.metrics.delivered).toBeGreaterThan(0);
});

test('a worker stopped mid-send gives its claims back: the next worker sends them at once', async () => {
  await setup({ config: { timeoutMs: 60_000 } });
  receiver.respond = (_r, n) => (n === 1 ? 'hang' : 200);
  await pushImage('hooks/stop', 'v1');
  await eventually(() => receiver.requests.length === 1, 10_000, 'the first send');
  await workers[0]?.stop();
  workers = [startWebhookWorker(reg.pool, FAST, createLogger('silent'))];
  await settled(); // far sooner than the 90 s lease of the stopped worker
  const events = await journal('hooks/stop');
  expect(keys(receiver.accepted)).toEqual(events.map((e) => e.id));
});

test('a claim whose worker died is sent again once its lease expires, and the dead lease cannot complete it', async () => {
  await setup({ workers: 0 });
  await pushImage('hooks/crash', 'v1');
  const dead = randomUUID();
  const claimed = await claimDeliveries(reg.pool, dead, 100, 1500); // a worker that claims and vanishes
  expect(claimed.length).toBeGreaterThan(0);
  workers.push(startWebhookWorker(reg.pool, FAST, createLogger('silent')));
  await new Promise((r) => setTimeout(r, 300));
  expect(receiver.requests).toHaveLength(0); // the lease still holds
  await settled();
  const events = await journal('hooks/crash');
  expect(keys(receiver.accepted)).toEqual(events.map((e) => e.id));
  for (const c of claimed) await markFailed(reg.pool, c.id, dead, 0, 'late'); // guarded by the lease token: no effect
  expect(await outboxBacklog(reg.pool)).toBe(0);
});
