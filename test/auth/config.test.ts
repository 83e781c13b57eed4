import { exportPKCS8, generateKeyPair } from 'jose';
import { expect, test } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/auth/password.ts';
import { globMatches } from '../../src/shared/glob.ts';
import { parseScopes } from '../../src/auth/scope.ts';
import { loadConfig } from '../../src/config/index.ts';
import { authConfig } from '../../src/config/runtime.ts';
import { ConfigError } from '../../src/config/index.ts';

const loadAuthConfig = (env: NodeJS.ProcessEnv) => authConfig(loadConfig(env));

test('BOLLARD_AUTH defaults to none; token mode has sensible defaults', () => {
  expect(loadAuthConfig({}).mode).toBe('none');
  expect(loadAuthConfig({ BOLLARD_AUTH: 'token' })).toMatchObject({
    mode: 'token', realm: null, service: 'bollard', issuer: 'bollard', tokenTtlSeconds: 300, signingKey: null, adminPassword: null,
  });
});

test('bad values stop start-up naming the variable, never echoing a secret', () => {
  expect(() => loadAuthConfig({ BOLLARD_AUTH: 'basic' })).toThrow(/BOLLARD_AUTH/);
  expect(() => loadAuthConfig({ BOLLARD_AUTH_TOKEN_TTL: '5' })).toThrow(/BOLLARD_AUTH_TOKEN_TTL/);
  expect(() => loadAuthConfig({ BOLLARD_AUTH_REALM: 'ftp://x/token' })).toThrow(ConfigError);
  const err = (() => {
    try {
      loadAuthConfig({ BOLLARD_ADMIN_PASSWORD: 'short' });
    } catch (e) {
      return e as Error;
    }
    return null;
  })();
  expect(err?.message).toMatch(/BOLLARD_ADMIN_PASSWORD/);
  expect(err?.message).not.toMatch(/short\b(?! )/);
});

test('a configured PEM key is accepted', async () => {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const pem = await exportPKCS8(privateKey);
  expect(loadAuthConfig({ BOLLARD_AUTH: 'token', BOLLARD_AUTH_SIGNING_KEY: pem }).signingKey).toEqual({ pem });
});

test('passwords are hashed with argon2id and verified', async () => {
  const h = await hashPassword('correct horse');
  expect(h).toMatch(/^\$argon2id\$/);
  expect(await verifyPassword(h, 'correct horse')).toBe(true);
  expect(await verifyPassword(h, 'wrong horse')).toBe(false);
  expect(await verifyPassword(null, 'correct horse')).toBe(false);
});

test('globs: * within a component, ** across', () => {
  expect(globMatches('library/*', 'library/alpine')).toBe(true);
  expect(globMatches('library/*', 'library/a/b')).toBe(false);
  expect(globMatches('library/**', 'library/a/b')).toBe(true);
  expect(globMatches('**', 'x/y/z')).toBe(true);
  expect(globMatches('team.a/*', 'teamxa/app')).toBe(false);
});

test('scopes: repeated and space-separated, names with a port, merged', () => {
  expect(parseScopes(['repository:a/b:pull', 'repository:a/b:push repository:localhost:5000/c:pull', 'bogus'])).toEqual([
    { type: 'repository', name: 'a/b', actions: ['pull', 'push'] },
    { type: 'repository', name: 'localhost:5000/c', actions: ['pull'] },
  ]);
});
