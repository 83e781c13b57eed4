// The configuration file, and the environment over it: precedence, typos named
// with the nearest known key or variable, bad values named by key, never by value.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'bollard-config-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function file(text: string): string {
  const path = join(dir, `config-${n++}.yaml`);
  writeFileSync(path, text);
  return path;
}

function failure(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a configuration error');
}

test('the file sets what the variables set, and a variable overrides its key', () => {
  const path = file(`
listen: 0.0.0.0:5001
dataDir: /srv/bollard
database:
  url: postgres://bollard@db/bollard
  poolSize: 5
storage:
  driver: s3
  s3: { bucket: images, partSizeMb: 32, forcePathStyle: true }
auth:
  mode: token
  tokenTtl: 600
http:
  trustProxy: [loopback, 10.0.0.0/8]
`);
  const fromFile = loadConfig({ BOLLARD_CONFIG: path });
  expect(fromFile).toMatchObject({
    listen: '0.0.0.0:5001', dataDir: '/srv/bollard', database: { url: 'postgres://bollard@db/bollard', poolSize: 5 },
    storage: { driver: 's3', s3: { bucket: 'images', partSizeMb: 32, forcePathStyle: true } }, auth: { mode: 'token', tokenTtl: 600 },
    http: { trustProxy: ['loopback', '10.0.0.0/8'] },
  });
  const both = loadConfig({ BOLLARD_CONFIG: path, BOLLARD_LISTEN: '127.0.0.1:6000', BOLLARD_S3_PART_SIZE_MB: '64', BOLLARD_AUTH_TOKEN_TTL: '' });
  expect(both.listen).toBe('127.0.0.1:6000');
  expect(both.storage.s3).toMatchObject({ bucket: 'images', partSizeMb: 64, forcePathStyle: true });
  expect(both.auth.tokenTtl, 'an empty variable leaves the file alone').toBe(600);
});

test('YAML\'s own booleans and numbers are taken where a variable would give the same text', () => {
  const c = loadConfig({ BOLLARD_CONFIG: file('gc:\n  enabled: false\n  orphanReferrers: 0\nregistry:\n  autoMount: on\n  pageSizeMax: "50"\nhttp:\n  trustProxy: 2\n') });
  expect([c.gc.enabled, c.gc.orphanReferrers, c.registry.autoMount, c.registry.pageSizeMax, c.http.trustProxy]).toEqual([false, false, true, 50, 2]);
});

test('an empty file, and a key without a value, count as unset', () => {
  expect(loadConfig({ BOLLARD_CONFIG: file('') }).listen).toBe('127.0.0.1:5000');
  expect(loadConfig({ BOLLARD_CONFIG: file('auth:\n  realm:\nlisten: 127.0.0.1:5002\n') }).auth.realm).toBeUndefined();
});

test('an unknown key in the file names the nearest known one', () => {
  const path = file('storage:\n  s3:\n    bukcet: images\nlisen: 0.0.0.0:5000\nauth:\n  tokenTTL: 60\n');
  const message = failure({ BOLLARD_CONFIG: path });
  expect(message).toContain(`storage.s3.bukcet (in ${path}): unknown key; did you mean storage.s3.bucket?`);
  expect(message).toContain(`lisen (in ${path}): unknown key; did you mean listen?`);
  expect(message).toContain(`auth.tokenTTL (in ${path}): unknown key; did you mean auth.tokenTtl?`);
  expect(failure({ BOLLARD_CONFIG: file('BOLLARD_LISTEN: 0.0.0.0:5000\n') })).toContain('BOLLARD_LISTEN is spelled listen');
});

test('an unknown BOLLARD_* variable names the nearest known one; the harnesses\' own variables pass', () => {
  expect(failure({ BOLLARD_LISTN: '0.0.0.0:5000' })).toContain('BOLLARD_LISTN: unknown variable; did you mean BOLLARD_LISTEN?');
  expect(failure({ BOLLARD_S3_BUKET: 'x', BOLLARD_GC_INTERVALL: '5' })).toMatch(/BOLLARD_GC_INTERVALL: unknown variable; did you mean BOLLARD_GC_INTERVAL\?\n {2}BOLLARD_S3_BUKET: unknown variable; did you mean BOLLARD_S3_BUCKET\?/);
  expect(() => loadConfig({ BOLLARD_TEST_AUTH: 'token', BOLLARD_USER_PASSWORD: 'x', BOLLARD_WEBHOOK_SECRET: 'y', BOLLARD_CEPH_DIR: '/c', BOLLARD_TYPO: '' })).not.toThrow();
});

test('a bad value names its key in the file, or its variable, and the rule; never the value', () => {
  const path = file('auth:\n  tokenTtl: 5\n  adminPassword: hunter\nstorage:\n  driver: s4\ngc:\n  enabled: maybe\n');
  const message = failure({ BOLLARD_CONFIG: path, BOLLARD_DB_POOL_SIZE: '0' });
  expect(message).toContain(`auth.tokenTtl (in ${path}): Too small`);
  expect(message).toContain(`auth.adminPassword (in ${path}): at least 8 characters`);
  expect(message).toContain(`storage.driver (in ${path}): Invalid option`);
  expect(message).toContain(`gc.enabled (in ${path}):`);
  expect(message).toContain('BOLLARD_DB_POOL_SIZE: Too small');
  expect(message).not.toContain('hunter');
  expect(failure({ BOLLARD_CONFIG: file('storage:\n  driver: s3\n') })).toContain(`storage.s3.bucket (BOLLARD_S3_BUCKET): required when storage.driver (in ${join(dir, `config-${n - 1}.yaml`)}) is s3`);
});

test('a file that cannot be read, or is not YAML, stops with its name and no content', () => {
  expect(failure({ BOLLARD_CONFIG: join(dir, 'missing.yaml') })).toMatch(/BOLLARD_CONFIG: cannot read .*missing\.yaml \(ENOENT\)/);
  const bad = failure({ BOLLARD_CONFIG: file('auth:\n  adminPassword: "s3cret-pass\n') });
  expect(bad).toMatch(/not valid YAML at line \d+/);
  expect(bad).not.toContain('s3cret');
  expect(failure({ BOLLARD_CONFIG: file('- listen\n') })).toContain('expected a mapping');
  expect(failure({ BOLLARD_CONFIG: file('listen: a:1\nlisten: b:2\n') })).toContain('not valid YAML');
});
