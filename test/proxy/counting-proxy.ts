// An HTTP proxy in front of an upstream registry, for the single-flight tests: it
// counts the requests per method and path, adds the upstream's credentials (so
// Bollard sees an anonymous upstream), and slows blob bodies and manifest answers
// down so that concurrent pulls really overlap.
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { Transform } from 'node:stream';
import { listen } from './upstreams.ts';

export interface CountingProxy {
  url: string;
  /** Requests seen for `<METHOD> <path>`. */
  count(method: string, path: string): number;
  /** Body bytes sent so far for GET `path`. */
  sent(path: string): number;
  close(): Promise<void>;
}

export interface Pace {
  /** Bytes per second a blob body is sent at. */
  blobRate: number;
  /** Milliseconds a manifest answer is held. */
  manifestDelay: number;
}

export async function startCountingProxy(upstream: string, authorization: string, pace: Pace): Promise<CountingProxy> {
  const counts = new Map<string, number>();
  const sent = new Map<string, number>();
  const target = new URL(upstream);
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const key = `${req.method} ${path}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const out = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host, authorization } }, (up) => {
      const relay = () => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        const paced = req.method === 'GET' && path.includes('/blobs/') ? throttle(pace.blobRate, (n) => sent.set(path, (sent.get(path) ?? 0) + n)) : null;
        if (paced) up.pipe(paced).pipe(res);
        else up.pipe(res);
      };
      if (path.includes('/manifests/')) setTimeout(relay, pace.manifestDelay);
      else relay();
    });
    out.on('error', () => res.destroy());
    res.on('close', () => out.destroy());
    req.pipe(out);
  };
  const server = await listen(handle);
  return {
    url: server.url,
    count: (method, path) => counts.get(`${method} ${path}`) ?? 0,
    sent: (path) => sent.get(path) ?? 0,
    close: () => server.close(),
  };
}

/** Passes bytes on at about `rate` bytes per second, in slices of 256 KiB. */
function throttle(rate: number, onSent: (bytes: number) => void): Transform {
  const SLICE = 256 * 1024;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const slices: Buffer[] = [];
      for (let i = 0; i < chunk.length; i += SLICE) slices.push(chunk.subarray(i, i + SLICE));
      const next = () => {
        const slice = slices.shift();
        if (!slice) return done();
        this.push(slice);
        onSent(slice.length);
        setTimeout(next, (slice.length / rate) * 1000);
      };
      next();
    },
  });
}
