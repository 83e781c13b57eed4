// The access-control section of the configuration schema: Bollard's own token
// service and, optionally, an external issuer whose JWTs /v2 accepts too.
import { z } from 'zod';
import { csv, env, int } from './fields.ts';

export const ALLOWED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/**
 * Asymmetric algorithms only: `none`, and HS* (a shared secret, the classic
 * confusion where a public key is used as that secret), are refused.
 */
const algorithms = csv
  .transform((text) => [...new Set(text.split(',').map((a) => a.trim()).filter((a) => a !== ''))])
  .superRefine((list, ctx) => {
    if (list.length === 0) ctx.addIssue({ code: 'custom', message: 'expected a comma-separated list' });
    for (const a of list) {
      if (a.toLowerCase() === 'none') ctx.addIssue({ code: 'custom', message: '"none" is never accepted' });
      else if (/^HS/i.test(a)) ctx.addIssue({ code: 'custom', message: `${a} (a shared secret) is not accepted with public keys` });
      else if (!(ALLOWED_ALGORITHMS as readonly string[]).includes(a)) {
        ctx.addIssue({ code: 'custom', message: `unknown algorithm "${a}" (allowed: ${ALLOWED_ALGORITHMS.join(', ')})` });
      }
    }
  });

const ExternalSchema = z.strictObject({
  // One key source of the three.
  jwksUrl: env('BOLLARD_AUTH_EXTERNAL_JWKS_URL', z.url({ protocol: /^https?$/ }).optional()),
  jwksFile: env('BOLLARD_AUTH_EXTERNAL_JWKS_FILE', z.string().min(1).optional()),
  pemFile: env('BOLLARD_AUTH_EXTERNAL_PEM_FILE', z.string().min(1).optional()),
  /** Required with a key source; must differ from auth.issuer, since a token's iss picks its verifier. */
  issuer: env('BOLLARD_AUTH_EXTERNAL_ISSUER', z.string().min(1).optional()),
  /** Absent: auth.service. */
  audience: env('BOLLARD_AUTH_EXTERNAL_AUDIENCE', z.string().min(1).optional()),
  /** Absent: RS256 and ES256. */
  algorithms: env('BOLLARD_AUTH_EXTERNAL_ALGORITHMS', algorithms.optional()),
});

const seconds = (min: number, max: number, dflt: number) => int(min, max).default(dflt);

export const AuthSchema = z.strictObject({
  mode: env('BOLLARD_AUTH', z.enum(['none', 'token']).default('none')),
  /** Absolute URL of the token endpoint; absent: <origin of the request>/token. */
  realm: env('BOLLARD_AUTH_REALM', z.url({ protocol: /^https?$/ }).optional()),
  service: env('BOLLARD_AUTH_SERVICE', z.string().min(1).regex(/^[^"\\\s]+$/, 'no quotes, backslashes or spaces').default('bollard')),
  issuer: env('BOLLARD_AUTH_ISSUER', z.string().min(1).default('bollard')),
  tokenTtl: env('BOLLARD_AUTH_TOKEN_TTL', seconds(30, 86_400, 300)),
  refreshTtl: env('BOLLARD_AUTH_REFRESH_TTL', seconds(300, 365 * 86_400, 30 * 86_400)),
  /** PKCS#8 PEM of an EC P-256 private key; absent: generated on first start and kept in PostgreSQL. */
  signingKey: env('BOLLARD_AUTH_SIGNING_KEY', z.string().includes('BEGIN PRIVATE KEY', { message: 'expected a PKCS#8 PEM' }).optional(), { secret: true }),
  signingKeyFile: env('BOLLARD_AUTH_SIGNING_KEY_FILE', z.string().min(1).optional()),
  adminPassword: env('BOLLARD_ADMIN_PASSWORD', z.string().min(8, 'at least 8 characters').optional(), { secret: true }),
  login: z.strictObject({
    failuresPerClient: env('BOLLARD_AUTH_LOGIN_FAILURES_PER_CLIENT', int(1, 100_000).default(30)),
    failuresPerUser: env('BOLLARD_AUTH_LOGIN_FAILURES_PER_USER', int(1, 100_000).default(10)),
    /** Seconds the two counts above cover. */
    window: env('BOLLARD_AUTH_LOGIN_WINDOW', seconds(1, 86_400, 300)),
  }).prefault({}),
  external: ExternalSchema.prefault({}),
});

type Issue = { path: string[]; message: string };

/**
 * Rules across fields of the section. A message's {a.b} names another setting;
 * the loader writes it as the key or variable the operator used.
 */
export function authIssues(a: z.output<typeof AuthSchema>): Issue[] {
  const issues: Issue[] = [];
  if (a.signingKey !== undefined && a.signingKeyFile !== undefined) {
    issues.push({ path: ['auth', 'signingKey'], message: 'exclusive with {auth.signingKeyFile}' });
  }
  const x = a.external;
  const sources = [x.jwksUrl, x.jwksFile, x.pemFile].filter((s) => s !== undefined).length;
  if (sources === 0) {
    const rest = (['issuer', 'audience', 'algorithms'] as const).find((k) => x[k] !== undefined);
    if (rest) issues.push({ path: ['auth', 'external', rest], message: 'set one of {auth.external.jwksUrl}, {auth.external.jwksFile} or {auth.external.pemFile}' });
    return issues;
  }
  if (sources > 1) issues.push({ path: ['auth', 'external', 'jwksUrl'], message: '{auth.external.jwksUrl}, {auth.external.jwksFile} and {auth.external.pemFile} are exclusive' });
  if (x.issuer === undefined) issues.push({ path: ['auth', 'external', 'issuer'], message: 'required with an external key source' });
  else if (x.issuer === a.issuer) issues.push({ path: ['auth', 'external', 'issuer'], message: 'must differ from {auth.issuer}' });
  return issues;
}
