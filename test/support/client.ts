// Small push helpers over supertest, so tests read as what a client does.
import type { Express } from 'express';
import request from 'supertest';
import { expect } from 'vitest';
import type { Blob } from './fixtures.ts';

export async function pushBlob(app: Express, repo: string, b: Blob): Promise<void> {
  const res = await request(app)
    .post(`/v2/${repo}/blobs/uploads/?digest=${b.digest}`)
    .set('Content-Type', 'application/octet-stream')
    .send(b.data);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

export async function pushManifest(app: Express, repo: string, ref: string, m: Blob, mediaType: string) {
  const res = await request(app).put(`/v2/${repo}/manifests/${ref}`).set('Content-Type', mediaType).send(m.data.toString('utf8'));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res;
}

/** The OCI error codes of a response body. */
export function errorCodes(res: { body: unknown }): string[] {
  const body = res.body as { errors?: Array<{ code: string }> };
  return (body.errors ?? []).map((e) => e.code);
}

export function expectOciError(res: { status: number; body: unknown; headers: Record<string, string> }, status: number, code: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(errorCodes(res)).toContain(code);
  const body = res.body as { errors: Array<{ message: unknown }> };
  expect(typeof body.errors[0]?.message).toBe('string');
}

/** A supertest body parser that keeps the response as raw bytes. */
export function binaryParser(res: request.Response, cb: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
}
