// The token signing key. From configuration (PKCS#8 PEM) when given; otherwise the
// first process to start generates an ES256 key and stores it in PostgreSQL, and
// every replica loads the same one. Verification accepts our keys only, by `kid`.
import { readFile } from 'node:fs/promises';
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, importJWK, importPKCS8, type CryptoKey, type JWK, type JWTVerifyGetKey } from 'jose';
import type { DatabasePool } from 'slonik';
import { ConfigError } from '../shared/config-error.ts';
import { insertActiveKey, listSigningKeys } from '../db/signing-keys.ts';
import type { AuthConfig } from './options.ts';

export const ALGORITHM = 'ES256';

export interface SigningKeys {
  kid: string;
  privateKey: CryptoKey;
  /** Resolves a token's verification key by kid among our public keys, ES256 only. */
  verifyKey: JWTVerifyGetKey;
}

export async function loadSigningKeys(pool: DatabasePool, config: AuthConfig): Promise<SigningKeys> {
  if (config.signingKey) {
    const pem = 'pem' in config.signingKey ? config.signingKey.pem : await readFile(config.signingKey.file, 'utf8');
    let privateKey: CryptoKey;
    try {
      privateKey = await importPKCS8(pem, ALGORITHM, { extractable: true });
    } catch (err) {
      throw new ConfigError(`invalid configuration:\n  BOLLARD_AUTH_SIGNING_KEY: not an EC P-256 PKCS#8 key (${(err as Error).message})`);
    }
    const jwk = await exportJWK(privateKey);
    return fromPrivateJwks([{ ...jwk, kid: await calculateJwkThumbprint(publicPart(jwk)) }], 0);
  }
  let rows = await listSigningKeys(pool);
  if (!rows.some((r) => !r.retired)) {
    const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
    const jwk = await exportJWK(privateKey);
    await insertActiveKey(pool, await calculateJwkThumbprint(publicPart(jwk)), ALGORITHM, jwk);
    rows = await listSigningKeys(pool); // another replica may have won the race: use its key
  }
  const jwks = rows.filter((r) => r.algorithm === ALGORITHM).map((r) => ({ ...(r.private_jwk as JWK), kid: r.kid }));
  const active = rows.filter((r) => r.algorithm === ALGORITHM).findIndex((r) => !r.retired);
  if (active < 0) throw new Error(`no active ${ALGORITHM} signing key`);
  return fromPrivateJwks(jwks, active);
}

async function fromPrivateJwks(jwks: JWK[], active: number): Promise<SigningKeys> {
  const current = jwks[active] as JWK;
  const privateKey = (await importJWK({ ...current, alg: ALGORITHM }, ALGORITHM)) as CryptoKey;
  const publicKeys = jwks.map((k) => ({ ...publicPart(k), kid: k.kid, alg: ALGORITHM, use: 'sig' }));
  return { kid: current.kid as string, privateKey, verifyKey: createLocalJWKSet({ keys: publicKeys }) };
}

function publicPart(jwk: JWK): JWK {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
}
