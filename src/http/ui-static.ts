// Serves the web UI's page, stylesheet and modules (sources in src/ui/). The
// modules are TypeScript that Node itself strips to JavaScript
// (module.stripTypeScriptTypes), once, when the app is created: no bundler, no
// build step, nothing fetched from elsewhere; each asset is kept in memory with
// its gzip form. Every answer carries a strict Content-Security-Policy: scripts
// and styles from this origin only, no inline script, no framing.
import { readdirSync, readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { gzipSync } from 'node:zlib';
import type { Response } from 'express';
import { RegistryError } from '../errors/codes.ts';
import type { ServiceHandler } from './route.ts';

export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ts': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const SOURCES = new URL('../ui/', import.meta.url);

function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const file of readdirSync(SOURCES)) {
    const ext = file.slice(file.lastIndexOf('.'));
    const type = TYPES[ext];
    if (!type || file.endsWith('.test.ts') || file.endsWith('.d.ts')) continue;
    const text = readFileSync(new URL(file, SOURCES), 'utf8');
    const body = Buffer.from(ext === '.ts' ? quietly(() => stripTypeScriptTypes(text, { mode: 'strip' })) : text);
    assets.set(file, { type, body, gzip: gzipSync(body, { level: 9 }) });
  }
  return assets;
}

/**
 * Node 24 flags stripTypeScriptTypes as experimental with a process warning, though
 * it is the very stripper Node runs our own sources through: the warning is kept
 * out of the server's log, every other warning passes.
 */
function quietly<T>(fn: () => T): T {
  const original = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (text.includes('stripTypeScriptTypes')) return;
    (original as (...a: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return fn();
  } finally {
    process.emitWarning = original;
  }
}

let cached: Map<string, Asset> | null = null;
function assets(): Map<string, Asset> {
  cached ??= loadAssets();
  return cached;
}

/** Headers every UI answer carries, the JSON API's included. */
export function uiHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
}

function sendAsset(req: Parameters<ServiceHandler>[1], res: Response, asset: Asset): void {
  uiHeaders(res);
  const gzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
  const body = gzip ? asset.gzip : asset.body;
  res.status(200);
  res.setHeader('Content-Type', asset.type);
  res.setHeader('Vary', 'Accept-Encoding');
  // the modules change only with the server: revalidating each load costs one small request
  res.setHeader('Cache-Control', 'no-cache');
  if (gzip) res.setHeader('Content-Encoding', 'gzip');
  res.setHeader('Content-Length', body.length);
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}

/** GET /ui/: the page (the views are routed in the page, after the '#'). */
export const page: ServiceHandler = async (_s, req, res) => {
  if (!req.path.endsWith('/')) {
    res.redirect(301, '/ui/');
    return;
  }
  sendAsset(req, res, assets().get('index.html') as Asset);
};

/** GET /ui/<file>: a stylesheet or module. */
export const asset: ServiceHandler = async (_s, req, res) => {
  const file = req.path.slice('/ui/'.length);
  const found = file === 'index.html' ? undefined : assets().get(file);
  if (!found) throw new RegistryError('NAME_UNKNOWN', `no UI file ${file.slice(0, 64)}`);
  sendAsset(req, res, found);
};

/** Loads the assets now, so that a broken UI source fails at start, not at the first visit. */
export function preloadUi(): void {
  assets();
}
