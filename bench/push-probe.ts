// Quick iteration probe (not part of npm run bench): monolithic and chunked pushes
// against Bollard in several write-path configurations and distribution.
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { closeClient } from './lib/client.ts';
import { peakRss } from './lib/rss.ts';
import { makeRandomFile, settleDisk } from './lib/files.ts';
import { benchBaseDir, startBollard, startDistribution, type Registry } from './lib/servers.ts';
import * as w from './lib/workloads.ts';
const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_SIZE_MIB ?? 512) * MiB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const configs = (process.env.PROBE_CONFIGS ?? 'direct=true,direct=false').split(',');
const base = await benchBaseDir();
const regs: Registry[] = [];
try {
  for (const c of configs) {
    const [k, v] = c.split('=');
    const r = await startBollard(base, k === 'direct' ? { BOLLARD_FS_DIRECT_IO: v as string } : { [k as string]: v as string });
    r.name = c; regs.push(r);
  }
  regs.push(await startDistribution(base));
  const res: Record<string, { mono: number[]; chunked: number[] }> = {};
  for (const r of regs) res[r.name] = { mono: [], chunked: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? [...regs].reverse() : regs;
    for (const r of order) {
      const f = await makeRandomFile(join(base, 'm.bin'), SIZE);
      settleDisk();
      res[r.name]!.mono.push(await w.monolithicPush(r.url, f, `probe/m${round}`));
      await rm(f.path);
      if (process.env.PROBE_CONCURRENT === '1') {
        const files = await w.makeFiles(base, 32, 32 * MiB);
        settleDisk();
        res[r.name]!.chunked.push(await w.concurrentPushes(r.url, files));
        for (const f of files) await rm(f.path);
        process.stderr.write(`RSS ${r.name} ${(await peakRss(r.pid)) / 1e6}\n`);
        console.log(`peak RSS ${r.name} after round ${round + 1}: ${((await peakRss(r.pid)) / 1e6).toFixed(0)} MB`);
      } else if (process.env.PROBE_CHUNKED !== '0') {
        const g = await makeRandomFile(join(base, 'c.bin'), SIZE);
        settleDisk();
        res[r.name]!.chunked.push(await w.chunkedPush(r.url, g, 8 * MiB));
        await rm(g.path);
      }
      process.stderr.write(`${r.name}: ${JSON.stringify(res[r.name])}\n`);
    }
  }
  for (const r of regs) for (const l of (r.output?.().text ?? '').split('\n')) if (l.includes('uploads staged')) console.log(r.name, l);
  for (const [n, v] of Object.entries(res)) console.log(n.padEnd(30), 'mono', v.mono.map((x) => x.toFixed(0)).join('/'), 'chunked', v.chunked.map((x) => x.toFixed(0)).join('/'));
} finally {
  for (const r of regs) await r.stop().catch(() => undefined);
  closeClient();
  await rm(base, { recursive: true, force: true });
}
