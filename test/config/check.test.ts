// `bollard config check` as an operator runs it: the real CLI in a child process.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { parse } from 'yaml';

const BIN = fileURLToPath(new URL('../../bin/bollard.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'bollard-config-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The process environment without any BOLLARD_* or DATABASE_URL of the test run's own. */
const CLEAN = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BOLLARD_') && k !== 'DATABASE_URL' && !k.startsWith('AWS_')));

function bollard(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...CLEAN, ...env }, cwd: dir }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const SECRETS = `
database:
  url: postgres://bollard:db-pass-123@db.internal:5432/bollard?sslmode=require
storage:
  driver: s3
  s3:
    bucket: images
    accessKeyId: AKIAEXAMPLEKEY
    secretAccessKey: s3-secret-456
auth:
  mode: token
  adminPassword: admin-pass-789
  signingKey: |
    -----BEGIN PRIVATE KEY-----
    MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg
    -----END PRIVATE KEY-----
`;

test('config check prints the effective configuration, the environment over the file, secrets redacted; exit 0', async () => {
  const path = join(dir, 'ok.yaml');
  writeFileSync(path, `listen: 0.0.0.0:5001\n${SECRETS}`);
  const r = await bollard(['config', 'check', '--config', path], { BOLLARD_S3_REGION: 'eu-west-1' });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  for (const secret of ['db-pass-123', 'AKIAEXAMPLEKEY', 's3-secret-456', 'admin-pass-789', 'MIGHAgEA']) expect(r.stdout).not.toContain(secret);
  const c = parse(r.stdout);
  expect(c.listen).toBe('0.0.0.0:5001');
  expect(c.dataDir).toBe(join(dir, 'data'));
  expect(c.database.url).toBe('postgres://bollard:redacted@db.internal:5432/bollard?sslmode=require');
  expect(c.storage.s3).toMatchObject({ bucket: 'images', region: 'eu-west-1', accessKeyId: '[redacted]', secretAccessKey: '[redacted]' });
  expect(c.auth).toMatchObject({ mode: 'token', adminPassword: '[redacted]', signingKey: '[redacted]', realm: null, tokenTtl: 300 });
  expect(c.webhooks.backoffMaxMs).toBe(3_600_000);

  const json = await bollard(['config', 'check', '--json'], { BOLLARD_CONFIG: path, DATABASE_URL: 'postgres://u:env-pass@h/db' });
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout).database.url).toBe('postgres://u:redacted@h/db');
  expect(json.stdout).not.toContain('env-pass');
});

test('config check exits 1 naming the key or variable of every error, on stderr', async () => {
  const path = join(dir, 'bad.yaml');
  writeFileSync(path, 'storage:\n  s3:\n    bukcet: images\nauth:\n  tokenTtl: 1\n  adminPassword: short\n');
  const r = await bollard(['config', 'check', `--config=${path}`], { BOLLARD_LISTN: '0.0.0.0:1' });
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toContain('invalid configuration:');
  expect(r.stderr).toContain('BOLLARD_LISTN: unknown variable; did you mean BOLLARD_LISTEN?');
  expect(r.stderr).toContain(`storage.s3.bukcet (in ${path}): unknown key; did you mean storage.s3.bucket?`);
  expect(r.stderr).toContain(`auth.tokenTtl (in ${path}): Too small`);
  expect(r.stderr).not.toContain('short');

  const missing = await bollard(['config', 'check', '--config', join(dir, 'nope.yaml')]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain('BOLLARD_CONFIG: cannot read');
  expect((await bollard(['config', 'check', '--format'])).code).toBe(2);
  expect((await bollard(['config', 'chek'])).code).toBe(2);
});

test('serve stops before starting anything on a bad configuration, naming the key (status 2 as before)', async () => {
  const path = join(dir, 'serve-bad.yaml');
  writeFileSync(path, 'storage:\n  drivr: s3\n');
  const r = await bollard(['serve', '--config', path]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`storage.drivr (in ${path}): unknown key; did you mean storage.driver?`);
  const typo = await bollard(['serve', '--confg', path]);
  expect(typo.code).toBe(2);
  expect(typo.stderr).toContain("unknown option '--confg'");
});

test('config check shows no upstream or mirror credential, inline or read from a passwordFile', async () => {
  writeFileSync(join(dir, 'upstream-pw'), 'file-pass-321\n');
  const path = join(dir, 'proxy.yaml');
  writeFileSync(path, [
    'proxy:',
    '  upstreams:',
    '    - {prefix: hub, url: "https://registry-1.docker.io", username: puller, password: inline-pass-654}',
    `    - {prefix: q, url: "https://quay.io", username: robot, passwordFile: "${join(dir, 'upstream-pw')}"}`,
    `  mirror: {url: "http://127.0.0.1:5000", username: m, passwordFile: "${join(dir, 'upstream-pw')}", pushes: true}`,
  ].join('\n'));
  for (const format of [[], ['--json']]) {
    const r = await bollard(['config', 'check', '--config', path, ...format]);
    expect(r.code, r.stderr).toBe(0);
    for (const secret of ['inline-pass-654', 'file-pass-321']) expect(r.stdout).not.toContain(secret);
  }
  const c = parse((await bollard(['config', 'check', '--config', path])).stdout);
  expect(c.proxy).toMatchObject({ upstreams: '[redacted]', mirror: '[redacted]', tagTtl: 300 });
});
