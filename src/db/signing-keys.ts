import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

const KeyRow = z.object({
  kid: z.string(),
  algorithm: z.string(),
  private_jwk: z.record(z.string(), z.unknown()),
  retired: z.boolean(),
});
export type SigningKeyRow = z.infer<typeof KeyRow>;

export async function listSigningKeys(db: CommonQueryMethods): Promise<readonly SigningKeyRow[]> {
  return db.any(sql.type(KeyRow)`
    SELECT kid, algorithm, private_jwk, retired_at IS NOT NULL AS retired FROM signing_keys ORDER BY created_at`);
}

/** Stores the key as the active one unless another process stored one first; true when stored. */
export async function insertActiveKey(db: CommonQueryMethods, kid: string, algorithm: string, jwk: object): Promise<boolean> {
  const stored = await db.maybeOneFirst(sql.type(z.object({ kid: z.string() }))`
    INSERT INTO signing_keys (kid, algorithm, private_jwk) VALUES (${kid}, ${algorithm}, ${sql.jsonb(jwk as never)})
    ON CONFLICT DO NOTHING RETURNING kid`);
  return stored !== null;
}
