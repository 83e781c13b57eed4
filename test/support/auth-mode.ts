// The test run's auth mode: the `token` vitest project sets BOLLARD_TEST_AUTH=token
// so the HTTP and conformance suites run against a registry with token auth on,
// logged in as an admin whose credentials come from the environment.
export function testAuthMode(): 'none' | 'token' {
  return process.env['BOLLARD_TEST_AUTH'] === 'token' ? 'token' : 'none';
}

export const TEST_ADMIN = { username: 'admin', password: process.env['BOLLARD_TEST_ADMIN_PASSWORD'] ?? 'test-admin-password-1' };

/** Server environment for `bollard serve` in the run's auth mode. */
export function authServerEnv(): Record<string, string> {
  return testAuthMode() === 'token' ? { BOLLARD_AUTH: 'token', BOLLARD_ADMIN_PASSWORD: TEST_ADMIN.password } : {};
}

/** Credentials for the conformance suite in the run's auth mode. */
export function conformanceCredentials(): { username?: string; password?: string } {
  return testAuthMode() === 'token' ? { ...TEST_ADMIN } : {};
}
