// Access tokens of an external issuer (e.g. a company token server), verified
// against its JWKS (fetched by URL and cached by jose, or read from a file at
// start-up) or one PEM public key, with issuer, audience and the algorithm
// allow-list checked. Such a token's `access` claim says what it may do.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { ConfigError } from '../shared/config-error.ts';
import type { ExternalIssuerConfig } from './options.ts';
import { AccessClaim, LEEWAY_SECONDS, type VerifiedAccess } from './tokens.ts';

export interface ExternalVerifier {
  issuer: string;
  verify(token: string): Promise<VerifiedAccess | null>;
}

export async function createExternalVerifier(config: ExternalIssuerConfig): Promise<ExternalVerifier> {
  const key = await loadKey(config);
  return {
    issuer: config.issuer,
    verify: async (token) => {
      try {
        const { payload } = await jwtVerify(token, key as JWTVerifyGetKey, {
          algorithms: config.algorithms,
          issuer: config.issuer,
          audience: config.audience,
          clockTolerance: LEEWAY_SECONDS,
          requiredClaims: ['iss', 'sub', 'aud', 'exp'],
        });
        const access = AccessClaim.safeParse(payload['access'] ?? []);
        return access.success ? { sub: payload.sub as string, access: access.data } : null;
      } catch {
        return null;
      }
    },
  };
}

async function loadKey(config: ExternalIssuerConfig): Promise<JWTVerifyGetKey | KeyObject> {
  const k = config.keys;
  if ('jwksUrl' in k) return createRemoteJWKSet(new URL(k.jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
  const text = await readFile('jwksFile' in k ? k.jwksFile : k.pemFile, 'utf8').catch((e: Error) => {
    throw new ConfigError(`invalid configuration:\n  BOLLARD_AUTH_EXTERNAL_${'jwksFile' in k ? 'JWKS' : 'PEM'}_FILE: cannot read (${e.message})`);
  });
  try {
    if ('jwksFile' in k) return createLocalJWKSet(JSON.parse(text));
    const key = createPublicKey(text);
    if (key.asymmetricKeyType === undefined) throw new Error('not a public key');
    return key;
  } catch (e) {
    const name = 'jwksFile' in k ? 'BOLLARD_AUTH_EXTERNAL_JWKS_FILE: not a JWK set' : 'BOLLARD_AUTH_EXTERNAL_PEM_FILE: not a PEM public key';
    throw new ConfigError(`invalid configuration:\n  ${name} (${(e as Error).message})`);
  }
}

/** The `iss` claim of a token, unverified: only to pick which verifier to ask. */
export function issuerOf(token: string): string | null {
  try {
    const iss = decodeJwt(token).iss;
    return typeof iss === 'string' ? iss : null;
  } catch {
    return null;
  }
}
