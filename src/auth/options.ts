// What access control needs to know, declared here so that auth depends on no
// configuration loader: src/config produces values of these types.

export interface AuthConfig {
  mode: 'none' | 'token';
  realm: string | null;
  service: string;
  issuer: string;
  tokenTtlSeconds: number;
  refreshTtlSeconds: number;
  signingKey: { pem: string } | { file: string } | null;
  adminPassword: string | null;
  /** Failed logins tolerated per client address and per login name in one window. */
  loginLimits: { perClient: number; perUser: number; windowSeconds: number };
  /** Tokens of another issuer accepted on /v2, besides ours. */
  external: ExternalIssuerConfig | null;
}

export type KeySource = { jwksUrl: string } | { jwksFile: string } | { pemFile: string };

export interface ExternalIssuerConfig {
  keys: KeySource;
  issuer: string;
  audience: string;
  algorithms: string[];
}
