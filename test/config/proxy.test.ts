// The pull-through cache's settings (docs/proxy.md): upstream objects with
// credentials in the file, the password from a file, and the refusals at start.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/index.ts';
import { registryOptions } from '../../src/config/runtime.ts';

const dir = mkdtempSync(join(tmpdir(), 'bollard-proxy-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fromFile(proxy: unknown, env: NodeJS.ProcessEnv = {}) {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify({ proxy }));
  return loadConfig({ ...env, BOLLARD_CONFIG: file });
}

function refusal(load: () => unknown): string {
  try {
    load();
  } catch (err) {
    return (err as Error).message;
  }
  return 'loaded';
}

test('the file gives credentials; passwordFile is read (trimmed) at start; seconds become the options', () => {
  writeFileSync(join(dir, 'pw'), 'from-a-file\n');
  const c = fromFile({ tagTtl: 60, timeout: 5, upstreams: [{ prefix: 'mirror/quay', url: 'https://quay.io', username: 'u', passwordFile: join(dir, 'pw') }] });
  expect(registryOptions(c).proxy).toEqual({
    upstreams: [{ prefix: 'mirror/quay', url: 'https://quay.io', username: 'u', password: 'from-a-file' }],
    tagTtlSeconds: 60,
    timeoutMs: 5000,
  });
});

test('refused at start: overlapping prefixes, a URL not http(s), a bad prefix, an unreadable passwordFile, password with passwordFile', () => {
  expect(refusal(() => loadConfig({ BOLLARD_PROXY: 'a=http://x,a/b=http://y' }))).toMatch(/overlap/);
  expect(refusal(() => loadConfig({ BOLLARD_PROXY: 'a=ftp://x' }))).toMatch(/proxy\.upstreams/);
  expect(refusal(() => loadConfig({ BOLLARD_PROXY: 'Hub=http://x' }))).toMatch(/repository name/);
  expect(refusal(() => fromFile({ upstreams: [{ prefix: 'a', url: 'http://x', passwordFile: join(dir, 'absent') }] }))).toMatch(/cannot be read \(ENOENT\)/);
  writeFileSync(join(dir, 'pw2'), 'x');
  expect(refusal(() => fromFile({ upstreams: [{ prefix: 'a', url: 'http://x', password: 'p', passwordFile: join(dir, 'pw2') }] }))).toMatch(/exclusive/);
});

test('a bad value is refused without echoing it: a password in the list stays out of the message', () => {
  const message = refusal(() => fromFile({ upstreams: [{ prefix: 'a', url: 'not a url', password: 'hunter2-secret' }] }));
  expect(message).not.toBe('loaded');
  expect(message).not.toContain('hunter2-secret');
});

test('per upstream: tagTtl and timeout in the units the proxy counts in, names and pushes; the mirror from the file or the variable', () => {
  writeFileSync(join(dir, 'mpw'), 'mirror-secret\n');
  const c = fromFile({
    timeout: 9,
    upstreams: [{ prefix: 'hub', url: 'https://registry-1.docker.io', tagTtl: 0, timeout: 2, names: ['library/*', 'team/**'], pushes: true }],
    mirror: { url: 'http://127.0.0.1:5000', username: 'm', passwordFile: join(dir, 'mpw'), tagTtl: 60, names: ['library/*'], pushes: 'yes' },
  });
  expect(registryOptions(c).proxy).toEqual({
    upstreams: [{ prefix: 'hub', url: 'https://registry-1.docker.io', tagTtlSeconds: 0, timeoutMs: 2000, names: ['library/*', 'team/**'], pushes: true }],
    mirror: { url: 'http://127.0.0.1:5000', username: 'm', password: 'mirror-secret', tagTtlSeconds: 60, names: ['library/*'], pushes: true },
    tagTtlSeconds: 300,
    timeoutMs: 9000,
  });
  // a mirror alone turns the proxy on; its unset settings are the section's (left out here, filled in by the proxy)
  expect(registryOptions(loadConfig({ BOLLARD_PROXY_MIRROR: 'https://mirror.example' })).proxy).toEqual({
    upstreams: [], mirror: { url: 'https://mirror.example' }, tagTtlSeconds: 300, timeoutMs: 30_000,
  });
});

test('refused at start: a bad glob in names, an empty list, a bad mirror URL, an unknown key of the mirror, credentials in a URL', () => {
  expect(refusal(() => fromFile({ upstreams: [{ prefix: 'a', url: 'http://x', names: ['Team/*'] }] }))).toMatch(/repository glob/);
  expect(refusal(() => fromFile({ upstreams: [{ prefix: 'a', url: 'http://x', names: [] }] }))).toMatch(/proxy\.upstreams/);
  expect(refusal(() => loadConfig({ BOLLARD_PROXY_MIRROR: 'ftp://x' }))).toMatch(/proxy\.mirror\.url/);
  expect(refusal(() => fromFile({ mirror: { url: 'http://x', prefix: 'm' } }))).toMatch(/proxy\.mirror/);
  const inUrl = refusal(() => loadConfig({ BOLLARD_PROXY_MIRROR: 'https://u:url-secret@mirror.example' }));
  expect(inUrl).toMatch(/not in the URL/);
  expect(inUrl).not.toContain('url-secret');
});
