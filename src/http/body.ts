import type { Request } from 'express';
import { RegistryError } from '../errors/codes.ts';

/** Reads a small request body whole, refusing more than `limit` bytes with 413. */
export async function readSmallBody(req: Request, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    req.resume();
    throw new RegistryError('TOO_LARGE', `body of ${declared} bytes exceeds the limit of ${limit}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of req) {
      total += (chunk as Buffer).length;
      if (total > limit) {
        req.resume();
        throw new RegistryError('TOO_LARGE', `body exceeds the limit of ${limit} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof RegistryError) throw err;
    // the stream failed: the client went away, or sent less than its Content-Length
    throw new RegistryError('SIZE_INVALID', `the request body ended after ${total} bytes, before its announced length`);
  }
  return Buffer.concat(chunks, total);
}
