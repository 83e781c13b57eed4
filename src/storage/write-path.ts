// Which way the filesystem driver writes staged uploads: O_DIRECT (direct-io.ts)
// or page-cache writes with write-behind (buffered-io.ts), chosen by measuring the
// disk at start-up and as uploads run. Either way the blob is fsynced before its
// row commits (completeUpload); the choice only changes how the bytes get there.
//
// Why choose (bench/RESULTS.md, issue 20): one direct write in flight is bound by
// the latency of each write. On one day the machine's virtual disk took direct
// writes at 0.9–1.5 GB/s, and pushes with them ran 1.3–2× faster than with
// page-cache writes, which cost the CPU a copy into the page cache on 2 shared
// cores; on another day direct writes ran at 63–129 MB/s while page-cache writes
// reached 514 MB/s, 8× faster.
//
// The rule: direct writes while the disk keeps up with them. Every direct append
// of at least MIN_SAMPLE bytes reports how long its writes were in flight: that
// gives the disk's direct rate, and the share of the append's time the writes
// were busy. When the writes are busy most of the time (the disk is what limits
// the upload) and a probe of page-cache writes plus fdatasync measures twice as
// fast, uploads switch to page-cache writes. While on page-cache writes, a probe of
// both ways runs every REPROBE_MS while uploads arrive; uploads switch back when
// page-cache writes no longer measure 1.5× faster. A first rule compared direct
// writes with the rate uploads arrived at, but 32 concurrent uploads each arrive
// slowly, and it switched back at once (bench/RESULTS.md).
import { open, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openDirect, type AlignedBuffers } from './direct-io.ts';

export type WriteMode = 'direct' | 'buffered';

/** Appends smaller than this are not measured (too short to say anything). */
const MIN_SAMPLE = 4 * 1024 * 1024;
const PROBE_BYTES = 16 * 1024 * 1024;
const REPROBE_MS = 20_000;
/** Direct writes busy for more than this share of an append: the disk is what limits it. */
const BUSY = 0.8;
/** Leave direct writes when page-cache writes measure this many times faster... */
const LEAVE = 2;
/** ...and come back when they no longer measure this many times faster (the gap stops flapping). */
const RETURN = 1.5;
/** Weight of the newest sample in the moving averages. */
const ALPHA = 0.3;

export interface WritePathStatus {
  mode: WriteMode;
  /** Bytes per second, the latest estimates (0: not measured). */
  directRate: number;
  bufferedRate: number;
  arrivalRate: number;
  directBusy: number;
  switches: number;
}

export class WritePath {
  private readonly dir: string;
  private readonly buffers: AlignedBuffers;
  private readonly s: WritePathStatus = { mode: 'direct', directRate: 0, bufferedRate: 0, arrivalRate: 0, directBusy: 0, switches: 0 };
  private probedAt = 0;
  private probing: Promise<void> | null = null;

  private readonly onSwitch: (status: Readonly<WritePathStatus>) => void;

  constructor(dir: string, buffers: AlignedBuffers, onSwitch: (status: Readonly<WritePathStatus>) => void = () => undefined) {
    this.dir = dir;
    this.buffers = buffers;
    this.onSwitch = onSwitch;
  }

  get status(): Readonly<WritePathStatus> {
    return this.s;
  }

  /**
   * Measures both ways once, at start-up: direct writes unless page-cache writes
   * measure more than 4× faster (one probe is a small sample; the uploads
   * themselves correct the choice).
   */
  async start(): Promise<void> {
    try {
      await this.probe();
    } catch {
      // a full or failing disk must not keep the registry (or scrub, gc) from starting: reads still
      // work, and writes answer 507 where they fail; direct writes stay, and uploads measure the disk
      return;
    }
    if (this.s.bufferedRate > 4 * this.s.directRate) this.switchTo('buffered');
  }

  /** The way the next append writes; starts a probe in the background when one is due. */
  mode(): WriteMode {
    if (this.s.mode === 'buffered' && Date.now() - this.probedAt > REPROBE_MS) this.probeInBackground();
    return this.s.mode;
  }

  /** A direct append: `busy` seconds of writes in flight over `wall` seconds. */
  reportDirect(bytes: number, busy: number, wall: number): void {
    if (bytes < MIN_SAMPLE || busy <= 0 || wall <= 0) return;
    this.s.directRate = avg(this.s.directRate, bytes / busy);
    this.s.directBusy = avg(this.s.directBusy, Math.min(1, busy / wall));
    this.s.arrivalRate = avg(this.s.arrivalRate, bytes / wall);
    if (this.s.mode !== 'direct' || this.s.directBusy < BUSY) return;
    if (Date.now() - this.probedAt > REPROBE_MS) this.probeInBackground();
    else this.decide();
  }

  /** A page-cache append of `bytes` over `wall` seconds. */
  reportBuffered(bytes: number, wall: number): void {
    if (bytes < MIN_SAMPLE || wall <= 0) return;
    this.s.arrivalRate = avg(this.s.arrivalRate, bytes / wall);
  }

  private decide(): void {
    const { mode, directRate, bufferedRate, directBusy } = this.s;
    if (mode === 'direct' && directBusy >= BUSY && bufferedRate > LEAVE * directRate) this.switchTo('buffered');
    else if (mode === 'buffered' && bufferedRate < RETURN * directRate) this.switchTo('direct');
  }

  private switchTo(mode: WriteMode): void {
    this.s.mode = mode;
    this.s.switches += 1;
    this.onSwitch({ ...this.s });
    this.s.directBusy = 0; // a fresh start for the new way's measurements
  }

  private probeInBackground(): void {
    if (this.probing) return;
    this.probe()
      .then(() => this.decide())
      .catch(() => undefined);
  }

  /** Writes PROBE_BYTES each way, each followed by fdatasync; one probe at a time. */
  private probe(): Promise<void> {
    this.probing ??= (async () => {
      const path = join(this.dir, `.write-probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
      try {
        this.s.directRate = await timeDirect(path, this.buffers);
        await unlink(path).catch(() => undefined);
        this.s.bufferedRate = await timeBuffered(path, this.buffers.size);
      } finally {
        await unlink(path).catch(() => undefined);
        this.probedAt = Date.now();
        this.probing = null;
      }
    })();
    return this.probing;
  }
}

const avg = (old: number, sample: number) => (old === 0 ? sample : old + ALPHA * (sample - old));

async function timeDirect(path: string, buffers: AlignedBuffers): Promise<number> {
  await writeFile(path, '');
  const buf = await buffers.acquire();
  try {
    buf.fill(0);
    const t0 = process.hrtime.bigint();
    const fh = await openDirect(path);
    try {
      for (let pos = 0; pos < PROBE_BYTES; pos += buf.length) await fh.write(buf, 0, buf.length, pos);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    return PROBE_BYTES / seconds(t0);
  } finally {
    buffers.release(buf);
  }
}

async function timeBuffered(path: string, chunk: number): Promise<number> {
  const buf = Buffer.alloc(chunk);
  const t0 = process.hrtime.bigint();
  const fh = await open(path, 'w');
  try {
    for (let pos = 0; pos < PROBE_BYTES; pos += chunk) await fh.write(buf, 0, chunk, pos);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  return PROBE_BYTES / seconds(t0);
}

export function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}
