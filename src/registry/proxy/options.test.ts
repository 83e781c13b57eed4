import { expect, test } from 'vitest';
import type { RepoName } from '../../shared/names.ts';
import { claimName, MIRROR_LABEL, routeName, type ProxyOptions } from './options.ts';

const options: ProxyOptions = {
  upstreams: [
    { prefix: 'hub', url: 'https://registry-1.docker.io' },
    { prefix: 'mirror/quay', url: 'https://quay.io' },
  ],
  tagTtlSeconds: 300,
  timeoutMs: 30_000,
};
const remote = (name: string) => routeName(options, name as RepoName)?.remote ?? null;

test('a name under a prefix is served by its upstream, the prefix taken off', () => {
  expect(remote('hub/grafana/grafana')).toBe('grafana/grafana');
  expect(remote('mirror/quay/coreos/etcd')).toBe('coreos/etcd');
});

test("Docker Hub's library/ rule: a one-component name there is an official image; elsewhere it is kept", () => {
  expect(remote('hub/alpine')).toBe('library/alpine');
  expect(remote('mirror/quay/etcd')).toBe('etcd');
});

test('names outside every prefix, and the bare prefix, are local', () => {
  expect(remote('hubble/app')).toBeNull();
  expect(remote('mirror/app')).toBeNull();
  expect(routeName(undefined, 'hub/alpine' as RepoName)).toBeNull();
});

const withLists: ProxyOptions = {
  upstreams: [{ prefix: 'hub', url: 'https://registry-1.docker.io', names: ['library/*', 'team/**'] }],
  mirror: { url: 'https://registry-1.docker.io', names: ['library/*'] },
  tagTtlSeconds: 300,
  timeoutMs: 30_000,
};
const claim = (name: string) => claimName(withLists, name as RepoName);

test('an allow-list is matched on the upstream-side name; a name outside it stays under the prefix but is never fetched', () => {
  expect(claim('hub/alpine')).toMatchObject({ remote: 'library/alpine', fetches: true });
  expect(claim('hub/team/a/b')).toMatchObject({ remote: 'team/a/b', fetches: true });
  expect(claim('hub/other/app')).toMatchObject({ upstream: { prefix: 'hub' }, remote: 'other/app', fetches: false });
  expect(routeName(withLists, 'hub/other/app' as RepoName)).toBeNull();
});

test('the mirror serves names under no prefix, as sent (library/ added for Docker Hub); outside its allow-list a name is local', () => {
  expect(claim('library/alpine')).toMatchObject({ upstream: { prefix: MIRROR_LABEL }, remote: 'library/alpine', fetches: true });
  expect(claim('alpine')).toMatchObject({ remote: 'library/alpine', fetches: true });
  expect(claim('team/app')).toBeNull();
  const open: ProxyOptions = { ...withLists, mirror: { url: 'http://127.0.0.1:5000' } };
  expect(routeName(open, 'team/app' as RepoName)).toMatchObject({ remote: 'team/app' });
  expect(routeName(open, 'alpine' as RepoName)).toMatchObject({ remote: 'alpine' });
  expect(routeName(open, 'hub/team/x' as RepoName)).toMatchObject({ upstream: { prefix: 'hub' } });
});
