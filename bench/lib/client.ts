// A minimal registry client for the benchmarks: plain node:http with files
// streamed from disk, so the client never buffers a blob.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Agent, request, type IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

export function call(
  url: string,
  method: string,
  opts: { headers?: Record<string, string | number>; file?: { path: string; start?: number; end?: number }; body?: Buffer } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        if (chunks.length < 64) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      // A kept-alive socket the server closed just as it was reused: a GET or HEAD is sent again.
      if (req.reusedSocket && err.code === 'ECONNRESET' && (method === 'GET' || method === 'HEAD')) call(url, method, opts).then(resolve, reject);
      else reject(err);
    });
    if (opts.file) {
      pipeline(createReadStream(opts.file.path, { start: opts.file.start, end: opts.file.end, highWaterMark: 1024 * 1024 }), req).catch(reject);
    } else {
      req.end(opts.body);
    }
  });
}

function expectStatus(r: Reply, want: number, what: string): void {
  if (r.status !== want) throw new Error(`${what}: expected ${want}, got ${r.status} ${r.body.slice(0, 300)}`);
}

function resolveLocation(base: string, r: Reply): string {
  return new URL(r.headers.location as string, base).toString();
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

export async function pushMonolithic(base: string, repo: string, file: { path: string; size: number; digest: string }): Promise<void> {
  const post = await call(`${base}/v2/${repo}/blobs/uploads/`, 'POST', { headers: { 'Content-Length': 0 } });
  expectStatus(post, 202, 'POST upload');
  const put = await call(withDigest(resolveLocation(base, post), file.digest), 'PUT', {
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': file.size },
    file: { path: file.path },
  });
  expectStatus(put, 201, 'PUT blob');
}

/**
 * The chunked protocol: POST, one PATCH per chunk (each waiting for the answer,
 * as the spec's sequential chunk upload requires), PUT with the digest. Like a
 * careful client, it reads the next chunk from disk while the current one is in
 * flight, into one of two reused buffers, so the registry's per-request cost is
 * what the round trip measures, not the client's file I/O.
 */
export async function pushChunked(base: string, repo: string, file: { path: string; size: number; digest: string }, chunk: number): Promise<void> {
  const post = await call(`${base}/v2/${repo}/blobs/uploads/`, 'POST', { headers: { 'Content-Length': 0 } });
  expectStatus(post, 202, 'POST upload');
  let location = resolveLocation(base, post);
  const fh = await open(file.path, 'r');
  try {
    const buffers = [Buffer.allocUnsafe(chunk), Buffer.allocUnsafe(chunk)];
    const readAt = async (start: number, buf: Buffer): Promise<Buffer> => {
      const want = Math.min(chunk, file.size - start);
      for (let got = 0; got < want; ) {
        const { bytesRead } = await fh.read(buf, got, want - got, start + got);
        if (bytesRead === 0) throw new Error(`${file.path} ended early`);
        got += bytesRead;
      }
      return buf.subarray(0, want);
    };
    let next: Promise<Buffer> | null = file.size > 0 ? readAt(0, buffers[0] as Buffer) : null;
    for (let start = 0, i = 0; start < file.size; start += chunk, i ^= 1) {
      const body = await (next as Promise<Buffer>);
      next = start + chunk < file.size ? readAt(start + chunk, buffers[i ^ 1] as Buffer) : null;
      const r = await call(location, 'PATCH', {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length, 'Content-Range': `${start}-${start + body.length - 1}` },
        body,
      });
      expectStatus(r, 202, 'PATCH chunk');
      location = resolveLocation(base, r);
    }
  } finally {
    await fh.close();
  }
  expectStatus(await call(withDigest(location, file.digest), 'PUT', { headers: { 'Content-Length': 0 } }), 201, 'PUT close');
}

/** Downloads a blob, discarding the bytes; returns the byte count. */
export function pull(base: string, repo: string, digest: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(`${base}/v2/${repo}/blobs/${digest}`, { agent }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`GET blob ${res.statusCode}`))));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

export async function pushBuffer(base: string, repo: string, data: Buffer, digest: string): Promise<void> {
  const post = await call(`${base}/v2/${repo}/blobs/uploads/`, 'POST', { headers: { 'Content-Length': 0 } });
  expectStatus(post, 202, 'POST upload');
  expectStatus(await call(withDigest(resolveLocation(base, post), digest), 'PUT', { headers: { 'Content-Length': data.length }, body: data }), 201, 'PUT blob');
}

export async function putManifest(base: string, repo: string, ref: string, body: Buffer, mediaType: string): Promise<void> {
  const r = await call(`${base}/v2/${repo}/manifests/${ref}`, 'PUT', { headers: { 'Content-Type': mediaType, 'Content-Length': body.length }, body });
  expectStatus(r, 201, `PUT manifest ${ref}`);
}

export function closeClient(): void {
  agent.destroy();
}
