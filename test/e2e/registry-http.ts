// Talking to a `bollard serve` process over plain HTTP beside the client under test:
// pushing blobs and manifests the client cannot make, and a recording proxy that
// shows what a client asked for (its Accept header) and what it was served.
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import type { ServerProcess } from '../support/server.ts';
import { sha256 } from './oci-layout.ts';

/** Pushes a blob whole (POST ?digest= with the body) to a server without auth. */
export async function putBlob(server: ServerProcess, repo: string, data: Buffer | string): Promise<{ digest: string; size: number }> {
  const digest = sha256(data);
  const res = await fetch(`${server.url}/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  expect(res.status).toBe(201);
  return { digest, size: Buffer.byteLength(data) };
}

export async function putManifest(server: ServerProcess, repo: string, ref: string, body: string, type: string): Promise<string> {
  const res = await fetch(`${server.url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body, headers: { 'Content-Type': type } });
  expect(res.status, await res.clone().text()).toBe(201);
  return sha256(body);
}

export interface Exchange {
  method: string;
  path: string;
  accept: string;
  status: number;
  contentType: string | undefined;
  /** sha256 of the response body */
  digest: string;
}

/** An HTTP proxy in front of the server that records every request's Accept and the response. */
export async function recordingProxy(server: ServerProcess): Promise<{ hostPort: string; exchanges: Exchange[]; close(): Promise<void> }> {
  const exchanges: Exchange[] = [];
  const target = new URL(server.url);
  const proxy = createServer((req, res) => {
    const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } }, (up) => {
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('end', () => {
        const body = Buffer.concat(chunks);
        const type = up.headers['content-type'];
        exchanges.push({ method: req.method ?? '', path: req.url ?? '', accept: String(req.headers.accept ?? ''), status: up.statusCode ?? 0, contentType: type, digest: sha256(body) });
        res.writeHead(up.statusCode ?? 502, up.headers);
        res.end(body);
      });
      up.on('error', () => res.destroy());
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return {
    hostPort: `127.0.0.1:${port}`,
    exchanges,
    close: () => new Promise<void>((resolve) => proxy.close(() => resolve())),
  };
}
