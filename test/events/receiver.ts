// A webhook receiver on 127.0.0.1 for the tests: records every request (raw body
// and headers) and answers what the test decides.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  event: { id: number; kind: string; repository: string | null; tag: string | null; [k: string]: unknown };
}

export interface Receiver {
  url: string;
  /** Every request, in arrival order, including those answered with an error. */
  requests: Received[];
  /** The requests answered 2xx. */
  accepted: Received[];
  /** Decides the answer to each request: a status, or 'hang' to never answer. */
  respond: (r: Received, n: number) => number | 'hang' | Promise<number | 'hang'>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const r: Receiver = { url: '', requests: [], accepted: [], respond: () => 200, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const got: Received = { headers: req.headers, body, event: JSON.parse(body) as Received['event'] };
      r.requests.push(got);
      const answer = await r.respond(got, r.requests.length);
      if (answer === 'hang') return;
      if (answer >= 200 && answer < 300) r.accepted.push(got);
      res.writeHead(answer, { 'Content-Type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  r.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return r;
}

/** Polls until the condition holds (or fails the test after the timeout). */
export async function eventually(cond: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}
