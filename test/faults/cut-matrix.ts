// The cut matrix of the fault suite, runnable against any registry URL: every
// upload route cut by FIN or RST after 0 bytes (headers only), early in the body,
// half-way and after the whole body (while the server commits), after 0-150 ms,
// four at a time, while an honest client pushes and pulls beside them.
import { createHash, randomBytes } from 'node:crypto';
import { cut, openSession, send, targetOf, withQuery, type Ending, type Target } from './raw.ts';
import { honestTraffic } from './transfers.ts';

export const SIZE = 100_000;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function blobOf(data: Buffer) {
  return { data, digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: data.length };
}

export const data = blobOf(randomBytes(SIZE));
export const config = blobOf(Buffer.from('{}'));
export const manifest = blobOf(Buffer.from(JSON.stringify({
  schemaVersion: 2, mediaType: OCI_MANIFEST,
  config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: config.digest, size: config.size },
  layers: [{ mediaType: 'application/octet-stream', digest: data.digest, size: data.size }],
})));

type Route = 'POST monolithic' | 'PATCH chunk' | 'PUT last chunk' | 'PUT manifest';
const ROUTES: Route[] = ['POST monolithic', 'PATCH chunk', 'PUT last chunk', 'PUT manifest'];

async function requestFor(t: Target, route: Route, repo: string): Promise<{ method: string; path: string; body: Buffer; headers: Record<string, string> }> {
  switch (route) {
    case 'POST monolithic':
      return { method: 'POST', path: `/v2/${repo}/blobs/uploads/?digest=${data.digest}`, body: data.data, headers: {} };
    case 'PATCH chunk':
      return { method: 'PATCH', path: await openSession(t, repo), body: data.data, headers: {} };
    case 'PUT last chunk':
      return { method: 'PUT', path: withQuery(await openSession(t, repo), `digest=${data.digest}`), body: data.data, headers: {} };
    case 'PUT manifest':
      return { method: 'PUT', path: `/v2/${repo}/manifests/latest`, body: manifest.data, headers: { 'Content-Type': OCI_MANIFEST } };
  }
}

export interface CutReport {
  cases: number;
  /** Honest transfers completed beside the cuts (a failure throws). */
  honest: { pushes: number; pulls: number };
  /** Sessions whose request was cut, and how many of them took the next chunk at once (202). */
  sessions: number;
  sessionsFree: number;
  /** Repositories where the whole blob was sent: present in full, absent, or anything else (a fault). */
  whole: number;
  absent: number;
  faulty: string[];
  /** The first failure of the registry to answer at all, if any. */
  unreachable: string | null;
}

export async function runCutMatrix(url: string, repoPrefix = 'faults'): Promise<CutReport> {
  const t = targetOf(url);
  const traffic = honestTraffic(url, `${repoPrefix}/honest`);
  const sessions: string[] = [];
  const cases: Array<{ route: Route; ending: Exclude<Ending, { kind: 'whole' }> }> = [];
  for (const route of ROUTES) {
    for (const kind of ['close', 'reset'] as const) {
      for (const after of [0, 1000, SIZE / 2, SIZE]) {
        for (const delayMs of [0, 3, 30, 150]) cases.push({ route, ending: { kind, after, delayMs } });
      }
    }
  }
  const report: CutReport = { cases: cases.length, honest: { pushes: 0, pulls: 0 }, sessions: 0, sessionsFree: 0, whole: 0, absent: 0, faulty: [], unreachable: null };
  try {
    for (let i = 0; i < cases.length; i += 4) {
      await Promise.all(cases.slice(i, i + 4).map(async ({ route, ending }, j) => {
        const r = await requestFor(t, route, `${repoPrefix}/r${i + j}`);
        if (route === 'PATCH chunk') sessions.push(r.path);
        await cut(t, r.method, r.path, r.body, ending, r.body.length, r.headers);
      }));
    }
    report.honest = await traffic.stop();
    report.sessions = sessions.length;
    for (const path of sessions) {
      if ((await send(t, 'PATCH', path, {}, Buffer.from('x'))).status === 202) report.sessionsFree += 1;
    }
    for (let i = 0; i < cases.length; i++) {
      const head = await send(t, 'HEAD', `/v2/${repoPrefix}/r${i}/blobs/${data.digest}`);
      if (head.status === 404) report.absent += 1;
      else if (head.status === 200 && head.headers['content-length'] === String(SIZE)) report.whole += 1;
      else report.faulty.push(`r${i}: HEAD ${head.status} length ${head.headers['content-length']}`);
    }
  } catch (err) {
    report.unreachable = String(err);
    await traffic.stop().catch(() => undefined);
  }
  return report;
}

// `node test/faults/cut-matrix.ts URL`: the same matrix against any registry, e.g. distribution.
if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.argv[2];
  if (!url) throw new Error('usage: node test/faults/cut-matrix.ts http://127.0.0.1:5000');
  for (const b of [config, data]) await send(targetOf(url), 'POST', `/v2/faults/base/blobs/uploads/?digest=${b.digest}`, {}, b.data);
  const started = Date.now();
  const report = await runCutMatrix(url, `faults${Date.now()}`);
  process.stdout.write(`${JSON.stringify({ ...report, seconds: (Date.now() - started) / 1000 }, null, 2)}\n`);
}
