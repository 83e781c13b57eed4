// The choice between direct and page-cache writes (src/storage/write-path.ts),
// fed with the figures a slow disk would report: direct appends whose writes are
// in flight all the time, at a rate far below what page-cache writes measure.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { AlignedBuffers } from '../../src/storage/direct-io.ts';
import { WritePath, type WritePathStatus } from '../../src/storage/write-path.ts';

const MiB = 1024 * 1024;
let dir: string;
let buffers: AlignedBuffers | null;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bollard-write-path-'));
  buffers = await AlignedBuffers.create(dir, 2 * MiB, 2);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('direct writes that limit the upload give way to page-cache writes; a disk that keeps up keeps them', async (ctx) => {
  if (!buffers) ctx.skip(); // the filesystem refuses O_DIRECT: there is no choice to make
  const switches: WritePathStatus[] = [];
  const path = new WritePath(dir, buffers as AlignedBuffers, (s) => switches.push({ ...s }));
  await path.start();
  const { directRate, bufferedRate } = path.status;
  expect(directRate).toBeGreaterThan(0);
  expect(bufferedRate).toBeGreaterThan(0);
  if (path.status.mode === 'buffered') return; // this disk took direct writes badly from the start

  // direct writes busy a third of the time: the disk keeps up, nothing changes
  for (let i = 0; i < 5; i++) path.reportDirect(64 * MiB, 0.1, 0.3);
  expect(path.mode()).toBe('direct');

  // busy all the time at a rate far below the page-cache probe's: switch, once the moving averages
  // have left the start-up probe's direct rate behind (it may have been far above the page cache's)
  const slow = bufferedRate / 10;
  for (let i = 0; i < 40 && path.mode() === 'direct'; i++) path.reportDirect(64 * MiB, (64 * MiB) / slow, (64 * MiB) / slow);
  expect(path.mode()).toBe('buffered');
  expect(switches).toHaveLength(1);
  expect(switches[0]?.directBusy).toBeGreaterThanOrEqual(0.6);
});

test('appends too small to measure are not counted', async (ctx) => {
  if (!buffers) ctx.skip();
  const path = new WritePath(dir, buffers as AlignedBuffers);
  path.reportDirect(1024, 1, 1);
  path.reportBuffered(1024, 1);
  expect(path.status.directBusy).toBe(0);
  expect(path.status.arrivalRate).toBe(0);
});
