// Configuration of an external token issuer whose JWTs /v2 accepts: its keys (a
// JWKS by URL or file, or one PEM public key), the issuer and audience every token
// must name, and the signature algorithms allowed. Asymmetric algorithms only:
// `none` and HS* (a shared secret, the classic confusion with a public key) are refused.
import { z } from 'zod';
import type { ExternalIssuerConfig, KeySource } from '../auth/options.ts';
import { ConfigError } from '../shared/config-error.ts';

export const ALLOWED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

export const EXTERNAL_ENV = {
  BOLLARD_AUTH_EXTERNAL_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
  BOLLARD_AUTH_EXTERNAL_JWKS_FILE: z.string().min(1).optional(),
  BOLLARD_AUTH_EXTERNAL_PEM_FILE: z.string().min(1).optional(),
  BOLLARD_AUTH_EXTERNAL_ISSUER: z.string().min(1).optional(),
  BOLLARD_AUTH_EXTERNAL_AUDIENCE: z.string().min(1).optional(),
  BOLLARD_AUTH_EXTERNAL_ALGORITHMS: z.string().min(1).optional(),
};

type ExternalEnv = { [K in keyof typeof EXTERNAL_ENV]?: string | undefined };

function fail(line: string): never {
  throw new ConfigError(`invalid configuration:\n  ${line}`);
}

/** null when no external issuer is configured; `service` is the default audience. */
export function externalIssuerConfig(e: ExternalEnv & { BOLLARD_AUTH_SERVICE: string }, ownIssuer: string): ExternalIssuerConfig | null {
  const sources: KeySource[] = [];
  if (e.BOLLARD_AUTH_EXTERNAL_JWKS_URL) sources.push({ jwksUrl: e.BOLLARD_AUTH_EXTERNAL_JWKS_URL });
  if (e.BOLLARD_AUTH_EXTERNAL_JWKS_FILE) sources.push({ jwksFile: e.BOLLARD_AUTH_EXTERNAL_JWKS_FILE });
  if (e.BOLLARD_AUTH_EXTERNAL_PEM_FILE) sources.push({ pemFile: e.BOLLARD_AUTH_EXTERNAL_PEM_FILE });
  const rest = e.BOLLARD_AUTH_EXTERNAL_ISSUER ?? e.BOLLARD_AUTH_EXTERNAL_AUDIENCE ?? e.BOLLARD_AUTH_EXTERNAL_ALGORITHMS;
  if (sources.length === 0) {
    if (rest !== undefined) fail('BOLLARD_AUTH_EXTERNAL_*: set one of BOLLARD_AUTH_EXTERNAL_JWKS_URL, _JWKS_FILE or _PEM_FILE');
    return null;
  }
  if (sources.length > 1) fail('BOLLARD_AUTH_EXTERNAL_JWKS_URL, _JWKS_FILE and _PEM_FILE are exclusive');
  const issuer = e.BOLLARD_AUTH_EXTERNAL_ISSUER ?? fail('BOLLARD_AUTH_EXTERNAL_ISSUER: required with an external key source');
  if (issuer === ownIssuer) fail('BOLLARD_AUTH_EXTERNAL_ISSUER: must differ from BOLLARD_AUTH_ISSUER');
  return {
    keys: sources[0] as KeySource,
    issuer,
    audience: e.BOLLARD_AUTH_EXTERNAL_AUDIENCE ?? e.BOLLARD_AUTH_SERVICE,
    algorithms: parseAlgorithms(e.BOLLARD_AUTH_EXTERNAL_ALGORITHMS ?? 'RS256,ES256'),
  };
}

function parseAlgorithms(text: string): string[] {
  const list = text.split(',').map((a) => a.trim()).filter((a) => a !== '');
  if (list.length === 0) fail('BOLLARD_AUTH_EXTERNAL_ALGORITHMS: expected a comma-separated list');
  for (const a of list) {
    if (a.toLowerCase() === 'none') fail('BOLLARD_AUTH_EXTERNAL_ALGORITHMS: "none" is never accepted');
    if (/^HS/i.test(a)) fail(`BOLLARD_AUTH_EXTERNAL_ALGORITHMS: ${a} (a shared secret) is not accepted with public keys`);
    if (!(ALLOWED_ALGORITHMS as readonly string[]).includes(a)) fail(`BOLLARD_AUTH_EXTERNAL_ALGORITHMS: unknown algorithm "${a}" (allowed: ${ALLOWED_ALGORITHMS.join(', ')})`);
  }
  return [...new Set(list)];
}
