// An incremental HTTP/1.1 response parser for the raw client: it takes whatever
// bytes the server sends on a connection and cuts them into responses (several
// when requests were pipelined or a lying Content-Length left bytes that the
// server read as a second request). Strict: bytes that are no HTTP response are
// reported, never guessed at.

export interface ParsedResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The request this answered was a HEAD: no body follows, whatever the headers say. */
  head: boolean;
}


export class ResponseParser {
  private buf: Buffer = Buffer.alloc(0);
  readonly responses: ParsedResponse[] = [];
  /** Set when the bytes cannot be read as HTTP responses. */
  garbled: string | null = null;

  private readonly headFor: (index: number) => boolean;

  /** `headFor(i)`: whether the i-th response answers a HEAD request. */
  constructor(headFor: (index: number) => boolean) {
    this.headFor = headFor;
  }

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.garbled === null && this.parseOne(false)) {
      /* keep cutting */
    }
  }

  /** The connection closed: a body that runs to the close ends here. */
  finish(): void {
    const last = this.responses[this.responses.length - 1];
    if (this.garbled === null && last?.head && this.buf.length > 0 && !this.buf.subarray(0, 5).equals(Buffer.from('HTTP/'))) {
      // a server that could not parse the request cannot know it was a HEAD: the body it sent anyway is that answer's
      last.body = this.buf;
      last.head = false;
      this.buf = Buffer.alloc(0);
      return;
    }
    if (this.garbled === null && this.buf.length > 0) this.parseOne(true);
  }

  /** Bytes received that belong to no complete response yet. */
  get pending(): number {
    return this.buf.length;
  }

  private parseOne(atClose: boolean): boolean {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.buf.length > 65_536) this.garbled = 'response head longer than 64 KiB';
      else if (atClose) this.garbled = `connection closed inside a response head: ${JSON.stringify(this.buf.subarray(0, 80).toString('latin1'))}`;
      return false;
    }
    const [statusLine = '', ...lines] = this.buf.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine);
    if (!m) {
      if (!atClose && this.responses[this.responses.length - 1]?.head) return false; // perhaps a body after a HEAD answer: decided at the close
      this.garbled = `not a status line: ${JSON.stringify(statusLine.slice(0, 80))}`;
      return false;
    }
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      if (i <= 0) {
        this.garbled = `malformed header line ${JSON.stringify(l.slice(0, 80))}`;
        return false;
      }
      const k = l.slice(0, i).trim().toLowerCase();
      headers[k] = headers[k] === undefined ? l.slice(i + 1).trim() : `${headers[k]}, ${l.slice(i + 1).trim()}`;
    }
    const start = end + 4;
    if (status >= 100 && status < 200) {
      this.buf = this.buf.subarray(start);
      return true;
    }
    const head = this.headFor(this.responses.length);
    const body = head || status === 204 || status === 304 ? { body: Buffer.alloc(0), next: start } : this.body(headers, start, atClose);
    if (body === null) return false;
    this.responses.push({ status, headers, body: body.body, head });
    this.buf = this.buf.subarray(body.next);
    return true;
  }

  private body(headers: Record<string, string>, start: number, atClose: boolean): { body: Buffer; next: number } | null {
    if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) return this.chunked(start, atClose);
    const cl = headers['content-length'];
    if (cl !== undefined) {
      if (!/^\d+$/.test(cl)) {
        this.garbled = `malformed Content-Length ${JSON.stringify(cl)}`;
        return null;
      }
      const n = Number(cl);
      if (this.buf.length - start < n) {
        if (atClose) this.garbled = `connection closed after ${this.buf.length - start} of ${n} body bytes`;
        return null;
      }
      return { body: this.buf.subarray(start, start + n), next: start + n };
    }
    if (!atClose) return null; // the body runs until the server closes
    return { body: this.buf.subarray(start), next: this.buf.length };
  }

  private chunked(start: number, atClose: boolean): { body: Buffer; next: number } | null {
    const parts: Buffer[] = [];
    let at = start;
    for (;;) {
      const eol = this.buf.indexOf('\r\n', at);
      if (eol < 0) break;
      const size = parseInt(this.buf.subarray(at, eol).toString('latin1').split(';')[0] as string, 16);
      if (!Number.isFinite(size) || size < 0) {
        this.garbled = 'malformed chunk size in a response';
        return null;
      }
      if (size === 0) {
        const trailerEnd = this.buf.indexOf('\r\n\r\n', eol); // "0\r\n", any trailers, then an empty line
        if (trailerEnd < 0) break;
        return { body: Buffer.concat(parts), next: trailerEnd + 4 };
      }
      if (this.buf.length < eol + 2 + size + 2) break;
      parts.push(this.buf.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    if (atClose) this.garbled = 'connection closed inside a chunked response body';
    return null;
  }
}
