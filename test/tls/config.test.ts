// The TLS pair is both settings or neither; the lifecycle settings have their defaults.
import { expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { tlsFiles } from '../../src/config/runtime.ts';

test('BOLLARD_TLS_CERT_FILE and BOLLARD_TLS_KEY_FILE: both give HTTPS, neither HTTP, one alone is a config error', () => {
  expect(tlsFiles(loadConfig({}))).toBeUndefined();
  expect(tlsFiles(loadConfig({ BOLLARD_TLS_CERT_FILE: '/etc/bollard/tls.crt', BOLLARD_TLS_KEY_FILE: '/etc/bollard/tls.key' }))).toEqual({
    certFile: '/etc/bollard/tls.crt', keyFile: '/etc/bollard/tls.key',
  });
  expect(() => loadConfig({ BOLLARD_TLS_CERT_FILE: '/etc/bollard/tls.crt' })).toThrow(ConfigError);
  expect(() => loadConfig({ BOLLARD_TLS_KEY_FILE: '/etc/bollard/tls.key' })).toThrow(/BOLLARD_TLS_KEY_FILE|tls\.keyFile/);
});

test('shutdown deadline and database connect timeout: defaults 30 s and 60 s, in seconds', () => {
  expect(loadConfig({})).toMatchObject({ shutdownTimeout: 30, database: { connectTimeout: 60 } });
  expect(loadConfig({ BOLLARD_SHUTDOWN_TIMEOUT: '2', BOLLARD_DB_CONNECT_TIMEOUT: '0' })).toMatchObject({ shutdownTimeout: 2, database: { connectTimeout: 0 } });
  expect(() => loadConfig({ BOLLARD_SHUTDOWN_TIMEOUT: '-1' })).toThrow(ConfigError);
});
