// One request to an upstream, over node:http or node:https with keep-alive
// connections, following redirects (a registry may send blobs on to a CDN).
// Not fetch: read through fetch's web streams, a blob body cost the main thread
// more CPU per GiB and one more copy of every chunk (bench/RESULTS.md,
// "Pull-through cache"), and a first pull through the cache is bound by CPU.
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';

export interface Reply {
  status: number;
  headers: Headers;
  /** Null for HEAD. */
  body: Readable | null;
  /** Ends the request and its connection; the body then fails with `reason`. */
  abort(reason: Error): void;
}

/** Thrown when no response headers came within the timeout. */
export class NoAnswer extends Error {}

const MAX_REDIRECTS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export class Transport {
  private readonly agents: Record<string, http.Agent> = {
    'http:': new http.Agent({ keepAlive: true }),
    'https:': new https.Agent({ keepAlive: true }),
  };

  /** GET or HEAD `url`; redirects are followed, and credentials are not sent on to another origin. */
  async send(method: 'GET' | 'HEAD', url: string, headers: Record<string, string>, timeoutMs: number): Promise<Reply> {
    let target = new URL(url);
    let sent = headers;
    for (let hops = 0; ; hops++) {
      const reply = await this.once(method, target, sent, timeoutMs, false);
      const location = REDIRECTS.has(reply.status) ? reply.headers.get('location') : null;
      if (location === null || hops === MAX_REDIRECTS) return reply;
      reply.abort(new Error('redirected'));
      const next = new URL(location, target);
      if (next.origin !== target.origin) sent = Object.fromEntries(Object.entries(sent).filter(([k]) => k.toLowerCase() !== 'authorization'));
      target = next;
    }
  }

  private once(method: 'GET' | 'HEAD', url: URL, headers: Record<string, string>, timeoutMs: number, retry: boolean): Promise<Reply> {
    const agent = this.agents[url.protocol];
    if (!agent) return Promise.reject(new Error(`unsupported protocol ${url.protocol}`));
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers, agent });
      const timer = setTimeout(() => req.destroy(new NoAnswer(`no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        // a kept-alive connection the upstream closed as this request went out: once more on a new one
        if (req.reusedSocket && !retry && err.code === 'ECONNRESET') resolve(this.once(method, url, headers, timeoutMs, true));
        else reject(err); // a no-op once the response has come: its body reports the failure
      });
      req.once('response', (res) => {
        clearTimeout(timer);
        res.on('error', () => undefined); // whoever reads the body sees the error; unread, it must not crash the process
        const abort = (reason: Error) => {
          req.destroy(reason);
          res.destroy(reason);
        };
        let parsed: Headers;
        try {
          parsed = toHeaders(res.headers);
        } catch (err) {
          abort(err as Error);
          reject(new Error('the upstream sent headers that cannot be read'));
          return;
        }
        if (method === 'HEAD') res.resume();
        resolve({ status: res.statusCode ?? 0, headers: parsed, body: method === 'HEAD' ? null : res, abort });
      });
      req.end();
    });
  }
}

function toHeaders(raw: http.IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
  }
  return out;
}

/** A small body (a token, an error) as text, at most `limit` bytes. */
export async function readText(body: Readable | null, limit: number): Promise<string> {
  if (!body) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      throw new Error(`a body over ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
