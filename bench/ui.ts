// `node bench/ui.ts`: the web UI's home page with 1 000 repositories, in Debian's
// headless chromium (playwright-core). Seeds through the API (one image, mounted
// into every repository, so the rows are what pushes make), then loads /ui/ cold
// (a fresh browser context each time: no cache) and reports, as medians:
//   - bytes transferred (headers and bodies as they crossed the wire, gzip included)
//   - first contentful paint, and the time until the repository table is in the page
//     (a mark src/ui/main.ts sets once the first view is rendered)
// Targets (issue 19): at most 200 KB and 300 ms. Not part of CI.
//
// Knobs (env): BENCH_UI_REPOS (1000), BENCH_UI_LOADS (7), BOLLARD_TEST_CHROMIUM (/usr/bin/chromium).
import { createHash, randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { benchBaseDir, startBollard } from './lib/servers.ts';

const REPOS = Number(process.env.BENCH_UI_REPOS ?? 1000);
const LOADS = Number(process.env.BENCH_UI_LOADS ?? 7);
const CHROMIUM = process.env.BOLLARD_TEST_CHROMIUM ?? '/usr/bin/chromium';
const log = (msg: string) => process.stderr.write(`[bench:ui] ${msg}\n`);
const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function ok(res: Promise<Response>, what: string): Promise<void> {
  const r = await res;
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${await r.text()}`);
  await r.arrayBuffer();
}

async function seed(url: string): Promise<void> {
  const config = Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', config: { Env: ['PATH=/usr/bin'] }, rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = randomBytes(256 * 1024);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digestOf(layer), size: layer.length }],
  }));
  const first = 'bench/app-00000';
  for (const b of [config, layer]) await ok(fetch(`${url}/v2/${first}/blobs/uploads/?digest=${digestOf(b)}`, { method: 'POST', body: b }), 'blob');
  const put = (repo: string) =>
    ok(fetch(`${url}/v2/${repo}/manifests/v1`, { method: 'PUT', body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } }), `manifest ${repo}`);
  await put(first);
  const names = Array.from({ length: REPOS - 1 }, (_, i) => `bench/app-${String(i + 1).padStart(5, '0')}`);
  for (let i = 0; i < names.length; i += 16) {
    await Promise.all(names.slice(i, i + 16).map(async (repo) => {
      for (const b of [config, layer]) await ok(fetch(`${url}/v2/${repo}/blobs/uploads/?mount=${digestOf(b)}&from=${first}`, { method: 'POST' }), `mount ${repo}`);
      await put(repo);
    }));
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  const base = await benchBaseDir();
  const reg = await startBollard(base);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
  try {
    const t0 = Date.now();
    await seed(reg.url);
    log(`seeded ${REPOS} repositories in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const bytes: number[] = [];
    const fcp: number[] = [];
    const table: number[] = [];
    for (let i = 0; i < LOADS + 1; i++) {
      const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
      const page = await context.newPage();
      const sizes: Array<Promise<number>> = [];
      page.on('requestfinished', (req) => sizes.push(req.sizes().then((s) => s.responseHeadersSize + s.responseBodySize)));
      await page.goto(`${reg.url}/ui/`);
      await page.waitForSelector('tbody tr');
      // the page marks the moment its first view is in the document (src/ui/main.ts); the next frame paints it
      const shown = await page.evaluate<number>("performance.getEntriesByName('bollard:first-view')[0]?.startTime ?? -1");
      const paint = await page.evaluate<number>("performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1");
      const total = (await Promise.all(sizes)).reduce((a, b) => a + b, 0);
      const rows = await page.locator('tbody tr').count();
      if (process.env.BENCH_UI_TRACE) {
        log(await page.evaluate<string>("performance.getEntriesByType('resource').map(e => `${e.name.replace(location.origin, '')} ${e.startTime.toFixed(0)}-${e.responseEnd.toFixed(0)}`).join('; ')"));
      }
      await context.close();
      if (i === 0) continue; // the first load warms the server (its caches, the JIT), not the figure
      bytes.push(total);
      fcp.push(paint);
      table.push(shown);
      log(`load ${i}: ${total} B, FCP ${paint.toFixed(0)} ms, table (${rows} rows) ${shown.toFixed(0)} ms`);
    }
    const result = { repositories: REPOS, loads: LOADS, transferredBytes: median(bytes), firstContentfulPaintMs: Math.round(median(fcp)), tableShownMs: Math.round(median(table)) };
    const pass = result.transferredBytes <= 200 * 1024 && result.tableShownMs <= 300;
    console.log(JSON.stringify({ ...result, targets: { bytes: 200 * 1024, ms: 300 }, pass }, null, 2));
    if (!pass) process.exitCode = 1;
  } finally {
    await browser.close();
    await reg.stop();
  }
}

await main();
