// The TLS pair is both settings or neither; the lifecycle settings have their defaults.
import { expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

test('BOLLARD_TLS_CERT_FILE and BOLLARD_TLS_KEY_FILE: both give HTTPS, neither HTTP, one alone is a config error', () => {
  expect(loadConfig({}).tls).toBeUndefined();
  expect(loadConfig({ BOLLARD_TLS_CERT_FILE: '/etc/bollard/tls.crt', BOLLARD_TLS_KEY_FILE: '/etc/bollard/tls.key' }).tls).toEqual({
    certFile: '/etc/bollard/tls.crt', keyFile: '/etc/bollard/tls.key',
  });
  expect(() => loadConfig({ BOLLARD_TLS_CERT_FILE: '/etc/bollard/tls.crt' })).toThrow(ConfigError);
  expect(() => loadConfig({ BOLLARD_TLS_KEY_FILE: '/etc/bollard/tls.key' })).toThrow(/set both/);
});

test('shutdown deadline and database connect timeout: defaults 30 s and 60 s, in seconds', () => {
  expect(loadConfig({})).toMatchObject({ shutdownTimeoutMs: 30_000, dbConnectTimeoutMs: 60_000 });
  expect(loadConfig({ BOLLARD_SHUTDOWN_TIMEOUT: '2', BOLLARD_DB_CONNECT_TIMEOUT: '0' })).toMatchObject({ shutdownTimeoutMs: 2000, dbConnectTimeoutMs: 0 });
  expect(() => loadConfig({ BOLLARD_SHUTDOWN_TIMEOUT: '-1' })).toThrow(ConfigError);
});
