// What a response must be, and the tally of a run. An answer is fine when it is
// a success, or an error whose body is an OCI error ({"errors":[{code, message,
// detail}]}). Empty 4xx answers without a Content-Type are what Node's HTTP
// parser sends for requests it cannot parse: acceptable, counted apart. Any 5xx
// is a failure (there is no outage during a run).
import type { FramingKind } from './framing.ts';
import type { Exchange } from './raw-client.ts';
import type { FuzzRequest } from './request.ts';
import type { ParsedResponse } from './response-parser.ts';

export type Verdict = 'ok' | 'oci-error' | 'head-error' | 'parser-empty' | 'oauth2-error' | 'express-default-404' | 'server-error' | 'non-oci-body';

export function verdictOf(req: FuzzRequest, res: ParsedResponse): Verdict {
  if (res.status >= 500) return 'server-error';
  if (res.status < 400) return 'ok';
  if (res.body.length === 0) {
    if (res.head) return 'head-error';
    if (res.headers['content-type'] === undefined) return 'parser-empty';
    return 'non-oci-body';
  }
  const json = parseJson(res);
  if (json !== undefined && isOciError(json)) return 'oci-error';
  // the token endpoint's password and refresh grants speak OAuth2 (RFC 6749 section 5.2)
  const toToken = req.method === 'POST' && /^(?:[a-z]+:\/\/[^/]*)?\/token\/?(?:\?|$)/i.test(req.target.toString('latin1'));
  // express's own final handler: its router skips every route when it cannot parse the target's URL
  if (res.status === 404 && /^text\/html/i.test(res.headers['content-type'] ?? '') && res.body.includes('<pre>Cannot ')) return 'express-default-404';
  if (toToken && res.status === 400 && typeof (json as { error?: unknown } | undefined)?.error === 'string') return 'oauth2-error';
  return 'non-oci-body';
}

function parseJson(res: ParsedResponse): unknown {
  if (!/^application\/json\b/i.test(res.headers['content-type'] ?? '')) return undefined;
  try {
    return JSON.parse(res.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function isOciError(doc: unknown): boolean {
  const errors = (doc as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return false;
  return errors.every((e) => typeof e === 'object' && e !== null && typeof e.code === 'string' && typeof e.message === 'string');
}

export interface Sample {
  index: number;
  problem: string;
  label: string;
  framing: string;
  notes: string[];
  /** The request's head and the start of its body, as the bytes went out (latin1, JSON-escaped). */
  request: string;
  status?: number;
  response?: string;
}

export class Tally {
  sent = 0;
  readonly exchanges: Record<Exchange['outcome'], number> = { answered: 0, closed: 0, timeout: 0, refused: 0 };
  responses = 0;
  readonly statuses: Record<string, number> = {};
  readonly verdicts: Record<Verdict, number> = { ok: 0, 'oci-error': 0, 'head-error': 0, 'parser-empty': 0, 'oauth2-error': 0, 'express-default-404': 0, 'server-error': 0, 'non-oci-body': 0 };
  readonly parserEmpty: Record<string, number> = {};
  /** status, Content-Type and the start of the body of the answers that are no OCI error. */
  readonly nonOciKinds: Record<string, number> = {};
  readonly framings: Partial<Record<FramingKind, number>> = {};
  readonly endpoints: Record<string, number> = {};
  unansweredHonest = 0;
  /** Honest CONNECT requests closed without an answer (Node's HTTP server, which has no 'connect' listener here). */
  connectClosed = 0;
  /** Honest requests whose connection the server reset before an answer reached the client. */
  resetBeforeAnswer = 0;
  readonly resetSamples: string[] = [];
  readonly expressSamples: string[] = [];
  garbled = 0;
  readonly failures: Sample[] = [];
  /** Every failure counted by what it was and where ("server-error 500 on PUT manifest"). */
  readonly faultKinds: Record<string, number> = {};
  /** The first failure of each kind. */
  readonly kindSamples: Record<string, Sample> = {};
  private failureCount = 0;

  record(index: number, req: FuzzRequest, framing: { kind: FramingKind; honest: boolean; detail: string; bytes: Buffer }, ex: Exchange): void {
    this.sent++;
    this.exchanges[ex.outcome]++;
    this.framings[framing.kind] = (this.framings[framing.kind] ?? 0) + 1;
    this.endpoints[req.label] = (this.endpoints[req.label] ?? 0) + 1;
    const sample = (problem: string, res?: ParsedResponse) => this.fail({
      index,
      problem,
      label: req.label,
      framing: `${framing.kind}${framing.detail ? ` (${framing.detail})` : ''}`,
      notes: req.notes,
      request: JSON.stringify(framing.bytes.subarray(0, 1200).toString('latin1')),
      ...(res ? { status: res.status, response: JSON.stringify(res.body.subarray(0, 300).toString('latin1')) } : {}),
    });
    if (ex.garbled !== null) {
      this.garbled++;
      sample(`garbled answer: ${ex.garbled}`);
    }
    if (framing.honest && ex.outcome !== 'answered' && ex.outcome !== 'refused') {
      if (req.method === 'CONNECT' && ex.outcome === 'closed') this.connectClosed++; // Node's server without a 'connect' listener
      else if (ex.outcome === 'closed' && (ex.error === 'ECONNRESET' || ex.error === 'EPIPE')) {
        // the server hung up with bytes of ours unread (a head over the parser's limit, a body it refused
        // before reading): TCP resets the connection, and an answer already sent is lost with it
        this.resetBeforeAnswer++;
        if (this.resetSamples.length < 10) this.resetSamples.push(`#${index} ${req.label} [${framing.kind}] ${framing.bytes.length} bytes: ${req.notes.join('; ')}`);
      } else {
        this.unansweredHonest++;
        sample(`honest request not answered (${ex.outcome} after ${ex.ms} ms${ex.error ? `, ${ex.error}` : ''})`);
      }
    }
    for (const res of ex.responses) {
      this.responses++;
      this.statuses[res.status] = (this.statuses[res.status] ?? 0) + 1;
      const v = verdictOf(req, res);
      this.verdicts[v]++;
      if (v === 'parser-empty') this.parserEmpty[res.status] = (this.parserEmpty[res.status] ?? 0) + 1;
      if (v === 'non-oci-body') {
        const kind = `${res.status} ${res.headers['content-type'] ?? '-'} ${JSON.stringify(res.body.subarray(0, 40).toString('latin1'))}`;
        this.nonOciKinds[kind] = (this.nonOciKinds[kind] ?? 0) + 1;
      }
      if (v === 'server-error' || v === 'non-oci-body') sample(v, res);
      if (v === 'express-default-404' && this.expressSamples.length < 5) this.expressSamples.push(JSON.stringify(framing.bytes.subarray(0, 200).toString('latin1')));
    }
  }

  private fail(s: Sample): void {
    this.failureCount++;
    const kind = `${s.problem.replace(/ \(.*$|: .*$/, '')}${s.status ? ` ${s.status}` : ''} on ${s.label}`;
    this.faultKinds[kind] = (this.faultKinds[kind] ?? 0) + 1;
    this.kindSamples[kind] ??= s;
    if (this.failures.length < 30) this.failures.push(s);
  }

  get failureTotal(): number {
    return this.failureCount;
  }
}
