// Assertion helpers that throw CheckFailure with "expected ..., got ..." messages.
import { CheckFailure } from './context.ts';
import type { HttpResponse } from './http.ts';
import { sha256 } from './fixtures.ts';

/** Short description of a response for failure messages. */
export function describe(res: HttpResponse): string {
  const path = new URL(res.url).pathname + new URL(res.url).search;
  let text = res.body.subarray(0, 300).toString('utf8').replace(/\s+/g, ' ').trim();
  if (res.body.length > 300) text += '...';
  return `${res.method} ${path} -> ${res.status}${text !== '' ? ` ${text}` : ''}`;
}

export function fail(message: string): never {
  throw new CheckFailure(message);
}

export function expect(cond: boolean, message: string): asserts cond {
  if (!cond) throw new CheckFailure(message);
}

export function expectEqual<T>(actual: T, expected: T, what: string): void {
  if (actual !== expected) {
    fail(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

export function expectStatus(res: HttpResponse, expected: number | readonly number[]): void {
  const list = typeof expected === 'number' ? [expected] : expected;
  if (!list.includes(res.status)) {
    fail(`expected status ${list.join(' or ')}, got ${describe(res)}`);
  }
  if (res.bodyError !== undefined) {
    fail(`${res.method} ${new URL(res.url).pathname} -> ${res.status}, but reading the response body failed: ${res.bodyError} (Content-Length ${JSON.stringify(res.headers.get('content-length'))})`);
  }
}

/** Returns the header value, failing when it is absent or empty. */
export function expectHeader(res: HttpResponse, name: string): string {
  const value = res.headers.get(name);
  if (value === null || value === '') fail(`expected a ${name} header on ${res.method} ${new URL(res.url).pathname} (status ${res.status}), got none`);
  return value;
}

export function expectHeaderEqual(res: HttpResponse, name: string, expected: string): void {
  const value = res.headers.get(name);
  if (value !== expected) {
    fail(`${name} on ${res.method} ${new URL(res.url).pathname}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(value)}`);
  }
}

/** Content-Type with parameters stripped and lower-cased. */
export function mediaTypeOf(res: HttpResponse): string | null {
  const ct = res.headers.get('content-type');
  if (ct === null) return null;
  return (ct.split(';')[0] ?? '').trim().toLowerCase();
}

export function expectContentType(res: HttpResponse, expected: string): void {
  const mt = mediaTypeOf(res);
  if (mt !== expected.toLowerCase()) {
    fail(`Content-Type: expected ${JSON.stringify(expected)}, got ${JSON.stringify(res.headers.get('content-type'))}`);
  }
}

export function expectContentLength(res: HttpResponse, expected: number): void {
  const cl = res.headers.get('content-length');
  if (cl === null || Number(cl) !== expected) {
    fail(`Content-Length on ${res.method} ${new URL(res.url).pathname}: expected ${expected}, got ${JSON.stringify(cl)}`);
  }
}

/** Body must be exactly `expected`. */
export function expectBody(res: HttpResponse, expected: Uint8Array): void {
  if (!res.body.equals(expected)) {
    fail(`body of ${res.method} ${new URL(res.url).pathname}: expected ${expected.length} bytes (${sha256(expected)}), got ${res.body.length} bytes (${sha256(res.body)})`);
  }
}

/** Docker-Content-Digest must equal `expected`. */
export function expectDigestHeader(res: HttpResponse, expected: string): void {
  expectHeaderEqual(res, 'docker-content-digest', expected);
}

/** Parses a JSON body, failing with a readable message. */
export function parseJson(res: HttpResponse): unknown {
  try {
    return JSON.parse(res.body.toString('utf8')) as unknown;
  } catch {
    return fail(`expected a JSON body, got ${describe(res)}`);
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates an error response: the status is one of `statuses`, and (except for
 * HEAD) the body is `{"errors":[{"code","message",...}]}` where each `code` is
 * an upper-case identifier, `message` (optional in the spec) is a string when
 * present, and at least one code is in `codes`. Returns the codes seen.
 */
export function expectError(
  res: HttpResponse,
  statuses: number | readonly number[],
  codes: readonly string[],
): string[] {
  expectStatus(res, statuses);
  if (res.method === 'HEAD') return [];
  const body = parseJson(res);
  if (!isRecord(body) || !Array.isArray(body['errors'])) {
    fail(`expected an error body {"errors":[...]}, got ${describe(res)}`);
  }
  const errors = body['errors'] as unknown[];
  expect(errors.length > 0, `expected a non-empty "errors" array, got ${describe(res)}`);
  const seen: string[] = [];
  for (const e of errors) {
    if (!isRecord(e)) fail(`each error must be an object, got ${JSON.stringify(e)}`);
    const code = e['code'];
    if (typeof code !== 'string' || !/^[A-Z_]+$/.test(code)) {
      fail(`error "code" must be an upper-case identifier string, got ${JSON.stringify(code)}`);
    }
    if ('message' in e && typeof e['message'] !== 'string') {
      fail(`error "message" must be a string, got ${JSON.stringify(e['message'])}`);
    }
    seen.push(code);
  }
  if (codes.length > 0 && !seen.some((c) => codes.includes(c))) {
    fail(`expected error code ${codes.join(' or ')}, got ${seen.join(', ')} (${describe(res)})`);
  }
  return seen;
}

/** Parses a `Range: 0-<end>` upload-progress header and returns <end>. */
export function expectUploadRange(res: HttpResponse, expectedEnd: number): void {
  const value = expectHeader(res, 'range');
  const m = /^(?:bytes=)?0-(\d+)$/.exec(value.trim());
  if (!m || Number(m[1]) !== expectedEnd) {
    fail(`Range on ${res.method} upload: expected "0-${expectedEnd}", got ${JSON.stringify(value)}`);
  }
}

/** Parses an RFC 8288 Link header and returns the target of rel="next", if any. */
export function nextLink(res: HttpResponse): string | undefined {
  const header = res.headers.get('link');
  if (header === null) return undefined;
  const re = /<([^>]*)>\s*((?:;\s*[^;,]+)*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(header)) !== null) {
    const params = m[2] ?? '';
    if (/;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?/i.test(params)) return m[1];
  }
  return undefined;
}
