// The core configuration: defaults, and bad values stopped with the variable named.
import { expect, test } from 'vitest';
import { ConfigError, loadConfig } from './index.ts';
import { storageConfig } from './runtime.ts';

test('BOLLARD_TRUST_PROXY takes a hop count or a list of addresses, subnets and named ranges', () => {
  expect(loadConfig({}).http.trustProxy).toBeUndefined();
  expect(loadConfig({ BOLLARD_TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
  expect(loadConfig({ BOLLARD_TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::/8, 192.0.2.7' }).http.trustProxy).toEqual(['loopback', '10.0.0.0/8', 'fd00::/8', '192.0.2.7']);
  for (const bad of ['true', '*', '10.0.0.0/33', 'proxy.example', '1.2.3.4/8/9', '100']) {
    expect(() => loadConfig({ BOLLARD_TRUST_PROXY: bad }), bad).toThrow(ConfigError);
    expect(() => loadConfig({ BOLLARD_TRUST_PROXY: bad }), bad).toThrow(/BOLLARD_TRUST_PROXY/);
  }
});

test('BOLLARD_FS_DIRECT_IO turns direct writes of staged uploads off', () => {
  expect(storageConfig(loadConfig({}))).toEqual({ kind: 'fs', directIo: true });
  expect(storageConfig(loadConfig({ BOLLARD_FS_DIRECT_IO: 'off' }))).toEqual({ kind: 'fs', directIo: false });
  expect(() => loadConfig({ BOLLARD_FS_DIRECT_IO: 'maybe' })).toThrow(/BOLLARD_FS_DIRECT_IO/);
});

test('BOLLARD_HASH_THREADS sets the hashing threads; by default one per spare core, 1 to 4', () => {
  const byDefault = loadConfig({}).registry.hashThreads;
  expect(byDefault).toBeGreaterThanOrEqual(1);
  expect(byDefault).toBeLessThanOrEqual(4);
  expect(loadConfig({ BOLLARD_HASH_THREADS: '0' }).registry.hashThreads).toBe(0);
  expect(loadConfig({ BOLLARD_HASH_THREADS: '3' }).registry.hashThreads).toBe(3);
  for (const bad of ['-1', '1.5', 'many', '65']) expect(() => loadConfig({ BOLLARD_HASH_THREADS: bad }), bad).toThrow(/BOLLARD_HASH_THREADS/);
});
