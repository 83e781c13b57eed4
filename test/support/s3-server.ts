// Which S3 server the test run uses (decided in the main vitest process):
//  - BOLLARD_TEST_S3_ENDPOINT (+ _ACCESS_KEY_ID, _SECRET_ACCESS_KEY, _REGION): a server the caller runs;
//  - otherwise Ceph's RADOS Gateway, started by scripts/ceph-s3.sh when Ceph is installed;
//  - otherwise the S3 suites are skipped, and the run says so. With CI=true they never are.
// BOLLARD_TEST_S3=off skips them on purpose.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export interface TestS3 {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  bucket: string;
}

export type S3Plan = { mode: 'endpoint' | 'ceph'; why: string } | { mode: 'skip'; why: string };

const SCRIPT = fileURLToPath(new URL('../../scripts/ceph-s3.sh', import.meta.url));
export const TEST_BUCKET = 'bollard-test';

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function s3Plan(env = process.env): S3Plan {
  const ci = env.CI === 'true' || env.CI === '1';
  if (env.BOLLARD_TEST_S3_ENDPOINT) return { mode: 'endpoint', why: `S3 suites run against ${env.BOLLARD_TEST_S3_ENDPOINT}` };
  if (env.BOLLARD_TEST_S3 === 'off' && !ci) return { mode: 'skip', why: 'S3 suites SKIPPED: BOLLARD_TEST_S3=off' };
  if (['radosgw', 'ceph-mon', 'ceph-osd', 'ceph', 'curl'].every(onPath)) return { mode: 'ceph', why: 'S3 suites run against a local Ceph RADOS Gateway (scripts/ceph-s3.sh)' };
  const why = 'no BOLLARD_TEST_S3_ENDPOINT and Ceph is not installed (scripts/ceph-s3.sh install)';
  if (ci) throw new Error(`CI=true requires the S3 suites, but ${why}`);
  return { mode: 'skip', why: `S3 suites SKIPPED: ${why}` };
}

/** Starts (or finds) the planned S3 server; `started` tells whether this run owns it. */
export async function startTestS3(plan: S3Plan, env = process.env): Promise<{ s3: TestS3; started: boolean } | null> {
  if (plan.mode === 'skip') return null;
  if (plan.mode === 'endpoint') {
    return {
      started: false,
      s3: {
        endpoint: env.BOLLARD_TEST_S3_ENDPOINT as string,
        accessKeyId: env.BOLLARD_TEST_S3_ACCESS_KEY_ID ?? env.AWS_ACCESS_KEY_ID ?? '',
        secretAccessKey: env.BOLLARD_TEST_S3_SECRET_ACCESS_KEY ?? env.AWS_SECRET_ACCESS_KEY ?? '',
        region: env.BOLLARD_TEST_S3_REGION ?? 'us-east-1',
        bucket: env.BOLLARD_TEST_S3_BUCKET ?? TEST_BUCKET,
      },
    };
  }
  const alreadyUp = await cephScript('env').then(async (out) => (await fetch(parseEnv(out).S3_ENDPOINT ?? '').then(() => true, () => false)));
  const vars = parseEnv(await cephScript('start'));
  return {
    started: !alreadyUp,
    s3: {
      endpoint: vars.S3_ENDPOINT ?? '',
      accessKeyId: vars.S3_ACCESS_KEY_ID ?? '',
      secretAccessKey: vars.S3_SECRET_ACCESS_KEY ?? '',
      region: vars.S3_REGION ?? 'us-east-1',
      bucket: TEST_BUCKET,
    },
  };
}

export async function stopTestS3(): Promise<void> {
  await cephScript('stop');
}

async function cephScript(command: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('bash', [SCRIPT, command], { timeout: 180_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/ceph-s3.sh ${command} failed: ${e.stderr || e.message}`);
  }
}

function parseEnv(text: string): Record<string, string> {
  return Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}
