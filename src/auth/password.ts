// Password hashing: argon2id (RFC 9106 second recommended profile is too heavy
// for 2-core replicas; these are OWASP's minimums: 19 MiB, t=2, p=1).
import { hash, verify } from '@node-rs/argon2';

// The library's default algorithm is Argon2id (const enums cannot be imported under type stripping).
const OPTIONS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

let dummy: Promise<string> | null = null;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

/**
 * True when the password matches. For an unknown user (hash null) a dummy hash is
 * checked anyway, so the answer takes as long whether or not the user exists.
 */
export async function verifyPassword(passwordHash: string | null, password: string): Promise<boolean> {
  if (passwordHash === null) {
    dummy ??= hashPassword('bollard-dummy-password');
    await verify(await dummy, password).catch(() => false);
    return false;
  }
  return verify(passwordHash, password).catch(() => false);
}
