// An HTTP proxy in front of the test S3 server that can misbehave on demand:
// answer 503 SlowDown (S3's throttling reply) to the next N requests, to every
// request, drop connections, or accept them and never answer. Requests are
// forwarded unchanged (Host included), so their signatures stay valid.
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export type ProxyMode = 'up' | 'slowdown' | 'reset' | 'hang';

export interface S3Proxy {
  endpoint: string;
  mode: ProxyMode;
  /** Answer this many of the next requests with 503 SlowDown, then forward again. */
  failNext(n: number): void;
  /** Requests answered with an error so far. */
  failures: number;
  close(): Promise<void>;
}

const SLOW_DOWN = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';

export async function startS3Proxy(target: string): Promise<S3Proxy> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  let failBudget = 0;
  const proxy: S3Proxy = {
    endpoint: '',
    mode: 'up',
    failures: 0,
    failNext: (n) => {
      failBudget = n;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const slowDown = (req: IncomingMessage, res: ServerResponse) => {
    proxy.failures += 1;
    req.resume();
    res.writeHead(503, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(SLOW_DOWN) }).end(SLOW_DOWN);
  };
  const server = createServer((req, res) => {
    if (proxy.mode === 'hang') return;
    if (proxy.mode === 'reset') {
      proxy.failures += 1;
      req.socket.destroy();
      return;
    }
    if (proxy.mode === 'slowdown' || failBudget > 0) {
      failBudget = Math.max(0, failBudget - 1);
      slowDown(req, res);
      return;
    }
    const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  proxy.endpoint = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return proxy;
}
