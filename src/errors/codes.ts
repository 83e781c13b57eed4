// The one registry of error codes: every code's HTTP status and message lives here.
// The first block is the OCI Distribution spec's list; the second holds the few
// Bollard adds for statuses the spec names without assigning a code.
const CODES = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },

  TAG_INVALID: { status: 400, message: 'invalid tag' },
  // more ?tag= parameters than one manifest PUT takes; the spec names 414 for it
  TOO_MANY_TAGS: { status: 414, message: 'too many tag parameters' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  PAGINATION_CURSOR_INVALID: { status: 400, message: 'invalid pagination cursor' },
  RANGE_INVALID: { status: 416, message: 'requested range not satisfiable' },
  TOO_LARGE: { status: 413, message: 'payload too large' },
  PARAMETER_INVALID: { status: 400, message: 'invalid request parameter' },
  INSUFFICIENT_STORAGE: { status: 507, message: 'insufficient storage' },
  // a client told when to come back retries instead of failing the push
  UNAVAILABLE: { status: 503, message: 'service temporarily unavailable', headers: { 'Retry-After': '1' } },
  UNKNOWN: { status: 500, message: 'unknown error' },
} as const satisfies Record<string, { status: number; message: string; headers?: Record<string, string> }>;

export type ErrorCode = keyof typeof CODES;

export function statusOf(code: ErrorCode): number {
  return CODES[code].status;
}

export function messageOf(code: ErrorCode): string {
  return CODES[code].message;
}

/** A failure the client is told about, as an OCI error body. */
export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly detail: unknown;
  /** Extra response headers (Range on 416, Retry-After on 429, ...). */
  readonly headers: Record<string, string>;
  /** The body's `message` when the code's generic one would hide what to do (clients print only it). */
  readonly clientMessage: string | undefined;

  constructor(code: ErrorCode, detail?: unknown, headers: Record<string, string> = {}, clientMessage?: string) {
    super(typeof detail === 'string' ? `${code}: ${detail}` : code);
    this.name = 'RegistryError';
    this.code = code;
    this.detail = detail;
    this.clientMessage = clientMessage;
    const defaults: Record<string, string> | undefined = (CODES[code] as { headers?: Record<string, string> }).headers;
    this.headers = defaults ? { ...defaults, ...headers } : headers;
  }

  get status(): number {
    return statusOf(this.code);
  }
}
