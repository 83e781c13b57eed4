// Access-control configuration, read from the environment and validated once,
// separately from the core config: BOLLARD_AUTH=none keeps the registry open.
import { z } from 'zod';
import type { AuthConfig } from '../auth/options.ts';
import { externalIssuerConfig, EXTERNAL_ENV } from './external-issuer.ts';
import { ConfigError, parseEnv } from './index.ts';

export type { AuthConfig };

const seconds = (min: number, max: number, dflt: number) => z.coerce.number().int().min(min).max(max).default(dflt);

export const AuthEnvSchema = z.object({
  BOLLARD_AUTH: z.enum(['none', 'token']).default('none'),
  /** Absolute URL of the token endpoint; default: <origin of the request>/token. */
  BOLLARD_AUTH_REALM: z.url({ protocol: /^https?$/ }).optional(),
  BOLLARD_AUTH_SERVICE: z.string().min(1).regex(/^[^"\\\s]+$/, 'no quotes, backslashes or spaces').default('bollard'),
  BOLLARD_AUTH_ISSUER: z.string().min(1).default('bollard'),
  BOLLARD_AUTH_TOKEN_TTL: seconds(30, 86_400, 300),
  BOLLARD_AUTH_REFRESH_TTL: seconds(300, 365 * 86_400, 30 * 86_400),
  /** PKCS#8 PEM of an EC P-256 private key; default: generated on first start and kept in PostgreSQL. */
  BOLLARD_AUTH_SIGNING_KEY: z.string().includes('BEGIN PRIVATE KEY', { message: 'expected a PKCS#8 PEM' }).optional(),
  BOLLARD_AUTH_SIGNING_KEY_FILE: z.string().min(1).optional(),
  BOLLARD_ADMIN_PASSWORD: z.string().min(8, 'at least 8 characters').optional(),
  BOLLARD_AUTH_LOGIN_FAILURES_PER_CLIENT: z.coerce.number().int().min(1).max(100_000).default(30),
  BOLLARD_AUTH_LOGIN_FAILURES_PER_USER: z.coerce.number().int().min(1).max(100_000).default(10),
  BOLLARD_AUTH_LOGIN_WINDOW: seconds(1, 86_400, 300),
  ...EXTERNAL_ENV,
});

export function loadAuthConfig(env: NodeJS.ProcessEnv = process.env): AuthConfig {
  const e = parseEnv(AuthEnvSchema, env);
  if (e.BOLLARD_AUTH_SIGNING_KEY && e.BOLLARD_AUTH_SIGNING_KEY_FILE) {
    throw new ConfigError('invalid configuration:\n  BOLLARD_AUTH_SIGNING_KEY and BOLLARD_AUTH_SIGNING_KEY_FILE are exclusive');
  }
  return {
    mode: e.BOLLARD_AUTH,
    realm: e.BOLLARD_AUTH_REALM ?? null,
    service: e.BOLLARD_AUTH_SERVICE,
    issuer: e.BOLLARD_AUTH_ISSUER,
    tokenTtlSeconds: e.BOLLARD_AUTH_TOKEN_TTL,
    refreshTtlSeconds: e.BOLLARD_AUTH_REFRESH_TTL,
    signingKey: e.BOLLARD_AUTH_SIGNING_KEY
      ? { pem: e.BOLLARD_AUTH_SIGNING_KEY }
      : e.BOLLARD_AUTH_SIGNING_KEY_FILE
        ? { file: e.BOLLARD_AUTH_SIGNING_KEY_FILE }
        : null,
    adminPassword: e.BOLLARD_ADMIN_PASSWORD ?? null,
    loginLimits: {
      perClient: e.BOLLARD_AUTH_LOGIN_FAILURES_PER_CLIENT,
      perUser: e.BOLLARD_AUTH_LOGIN_FAILURES_PER_USER,
      windowSeconds: e.BOLLARD_AUTH_LOGIN_WINDOW,
    },
    external: externalIssuerConfig(e, e.BOLLARD_AUTH_ISSUER),
  };
}
