import { expect, test } from 'vitest';
import type { RepoName } from '../../shared/names.ts';
import { routeName, type ProxyOptions } from './options.ts';

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
