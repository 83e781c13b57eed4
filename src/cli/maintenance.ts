// Operator commands that walk the whole registry: gc (with the sweeps) and scrub.
import { loadConfig } from '../config/index.ts';
import { blobStoreConfig, gcConfig } from '../config/runtime.ts';
import { collectGarbage, type GcReport } from '../registry/gc/collector.ts';
import { scrub } from '../registry/gc/scrub.ts';
import { sweepAll } from '../registry/gc/sweep.ts';
import { createBlobStore } from '../storage/index.ts';
import { UsageError } from './access.ts';
import { withDatabase } from './database.ts';

function flags(args: string[], allowed: string[]): Set<string> {
  for (const a of args) if (!allowed.includes(a)) throw new UsageError(`unknown option ${a}`);
  return new Set(args);
}

export async function runGc(args: string[]): Promise<void> {
  const f = flags(args, ['--dry-run', '--json']);
  const config = loadConfig();
  const gc = gcConfig(config);
  const store = await createBlobStore(blobStoreConfig(config));
  await withDatabase(async (pool) => {
    const report = await collectGarbage({ pool, store }, gc.policy, { dryRun: f.has('--dry-run') });
    const sweep = f.has('--dry-run') ? null : await sweepAll({ pool, store }, gc.sweep);
    if (f.has('--json')) process.stdout.write(`${JSON.stringify({ ...report, sweep })}\n`);
    else process.stdout.write(describe(report) + (sweep ? `sweep: ${JSON.stringify(sweep)}\n` : ''));
  });
}

function describe(r: GcReport): string {
  const lines = r.deleted.map((d) => `${r.dryRun ? 'would delete' : 'deleted'} ${d.target} ${d.repository ? `${d.repository}@` : ''}${d.digest}`);
  lines.push(`${r.deleted.length} ${r.dryRun ? 'to delete' : 'deleted'}, ${r.bytesFreed} bytes${r.dryRun ? ' to free' : ' freed'}, ${r.kept} kept by policy, ${r.deferred} deferred`);
  return `${lines.join('\n')}\n`;
}

export async function runScrub(args: string[]): Promise<void> {
  const f = flags(args, ['--json']);
  const store = await createBlobStore(blobStoreConfig(loadConfig()));
  await withDatabase(async (pool) => {
    const report = await scrub({ pool, store });
    if (f.has('--json')) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      for (const x of report.findings) {
        process.stdout.write(`${x.reason} ${x.digest} (blake3:${x.blake3}): ${x.detail}${x.quarantined ? '; quarantined' : '; in use by an upload, not quarantined yet'}\n`);
      }
      process.stdout.write(`checked ${report.checked} blobs (${report.bytes} bytes), ${report.findings.length} damaged\n`);
    }
    if (report.findings.length > 0) process.exitCode = 1;
  });
}
