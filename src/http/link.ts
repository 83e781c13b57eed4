// The Link header of every paged listing (the OCI listings and the admin journal):
// written once, so each listing's next page keeps the other query parameters alike.
import type { Request, Response } from 'express';

export interface NextPage {
  /** The query parameter that carries the cursor (`last`, `since`) and its value for the next page. */
  cursor: [name: string, value: string];
  /** The query parameter that carries the page size (`n`, `limit`) and the size. */
  size: [name: string, value: number];
}

/** Sets the RFC 8288 Link header pointing at the page after this one. */
export function linkNext(req: Request, res: Response, next: NextPage): void {
  const [cursorName, cursor] = next.cursor;
  const [sizeName, size] = next.size;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query)) if (k !== cursorName && k !== sizeName && typeof v === 'string') params.set(k, v);
  params.set(sizeName, String(size));
  params.set(cursorName, cursor);
  res.setHeader('Link', `<${req.baseUrl}${req.path}?${params.toString()}>; rel="next"`);
}
