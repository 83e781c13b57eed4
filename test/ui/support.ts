// What the browser tests of the web UI share: Debian's chromium driven through
// playwright-core (nothing downloads a browser), images pushed to a real
// `bollard serve` with skopeo, screenshots kept under test-results/ui/.
import { execFile } from 'node:child_process';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect, test } from 'vitest';
import type { ServerProcess } from '../support/server.ts';
import { createSandbox, ON_CI, requireTools, tools, type Sandbox, type Tools } from '../e2e/containers-sandbox.ts';
import { initLayout, writeImage, writeIndex, writeIndexJson, type BuiltImage, type Descriptor } from '../e2e/oci-layout.ts';

export const CHROMIUM = process.env['BOLLARD_TEST_CHROMIUM'] ?? '/usr/bin/chromium';
const BIN = fileURLToPath(new URL('../../bin/bollard.js', import.meta.url));
export const SHOTS = fileURLToPath(new URL('../../test-results/ui/', import.meta.url));

async function chromiumPresent(): Promise<boolean> {
  try {
    await access(CHROMIUM);
    return true;
  } catch {
    return false;
  }
}

/** Whether the browser tests can run; under CI a missing chromium or skopeo is a failure, not a skip. */
export async function uiPrerequisites(file: string): Promise<boolean> {
  const skopeo = await requireTools(file, ['skopeo']);
  if (!(await chromiumPresent())) {
    if (ON_CI) {
      test('chromium installed', () => {
        expect.fail(`${CHROMIUM} is missing, but CI is set: the CI script must install it (apt-get install -y chromium)`);
      });
    } else {
      console.log(`${file}: skipped, ${CHROMIUM} not installed (apt-get install -y chromium to run it)`);
    }
    return false;
  }
  return skopeo !== undefined;
}

export function launch(): Promise<Browser> {
  // --no-sandbox: CI runs as root in a container, where chromium's sandbox cannot start
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

/** A page that records console errors (a CSP violation is one) and accepts confirm() dialogs. */
export async function openPage(browser: Browser, opts: { width?: number } = {}): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: opts.width ?? 1200, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', (d) => void d.accept());
  return { page, errors };
}

/**
 * Loads a UI address afresh and waits until its view is rendered. page.goto to an
 * address differing only after the '#' does not reload: the view re-renders under
 * whatever the test clicks next.
 */
export async function visit(page: Page, url: string): Promise<void> {
  await page.goto('about:blank');
  await page.goto(url);
  await page.locator('main:not([aria-busy]) h1').first().waitFor();
}

export async function shot(page: Page, name: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

export function cli(server: ServerProcess, env: Record<string, string> = {}) {
  const e = { ...process.env, DATABASE_URL: server.databaseUrl, BOLLARD_DATA_DIR: server.dataDir, ...server.storageEnv, ...env };
  return (...args: string[]) => promisify(execFile)(process.execPath, [BIN, ...args], { env: e });
}

export interface Images {
  single: BuiltImage;
  multi: Descriptor;
  layout: string;
}

/** An OCI layout with a single-platform image (ref v1) and a two-platform index (ref multi). */
export async function buildImages(sandbox: Sandbox): Promise<Images> {
  const layout = join(sandbox.dir, 'layout');
  await initLayout(layout);
  const file = (tag: string) => [[{ path: 'etc/' }, { path: `etc/${tag}.txt`, data: `hello ${tag}\n` }, { path: `${tag}.bin`, randomSize: 48 * 1024 }]];
  const single = await writeImage(layout, { platform: { architecture: 'amd64', os: 'linux' }, layers: [...file('one'), ...file('two')], cmd: ['/usr/bin/hello'] });
  const amd64 = await writeImage(layout, { platform: { architecture: 'amd64', os: 'linux' }, layers: file('amd') });
  const arm64 = await writeImage(layout, { platform: { architecture: 'arm64', os: 'linux', variant: 'v8' }, layers: file('arm') });
  const multi = await writeIndex(layout, [amd64, arm64]);
  await writeIndexJson(layout, [
    { ref: 'v1', descriptor: single.manifest },
    { ref: 'multi', descriptor: multi },
  ]);
  return { single, multi, layout };
}

export interface Pusher {
  t: Tools;
  sandbox: Sandbox;
  /** skopeo copy of the layout's ref to repository:tag, with `creds` (user:password) when given. */
  push(images: Images, ref: string, to: string, creds?: string): Promise<void>;
}

export async function pusher(server: ServerProcess): Promise<Pusher> {
  const sandbox = await createSandbox('bl-ui-', server.hostPort);
  const t = tools(sandbox, () => server);
  return {
    t,
    sandbox,
    async push(images, ref, to, creds) {
      const credFlags = creds ? ['--dest-creds', creds] : [];
      await t.ok('skopeo', '', ['copy', '--all', '--dest-tls-verify=false', ...credFlags, `oci:${images.layout}:${ref}`, `docker://${server.hostPort}/${to}`]);
    },
  };
}

/** Pushes a signature-like referrer of `subject` straight through the API (skopeo cannot make one). */
export async function pushReferrer(server: ServerProcess, repo: string, subject: Descriptor, artifactType: string, headers: Record<string, string> = {}): Promise<string> {
  const empty = Buffer.from('{}');
  const payload = Buffer.from(JSON.stringify({ signed: subject.digest }));
  const { createHash } = await import('node:crypto');
  const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  for (const blob of [empty, payload]) {
    const res = await fetch(`${server.url}/v2/${repo}/blobs/uploads/?digest=${digestOf(blob)}`, { method: 'POST', body: blob, headers: { ...headers, 'Content-Type': 'application/octet-stream' } });
    expect(res.status, await res.text()).toBe(201);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf(empty), size: empty.length },
      layers: [{ mediaType: 'application/octet-stream', digest: digestOf(payload), size: payload.length }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { 'org.example.kind': 'test signature' },
    }),
  );
  const digest = digestOf(manifest);
  const res = await fetch(`${server.url}/v2/${repo}/manifests/${digest}`, { method: 'PUT', body: manifest, headers: { ...headers, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
  expect(res.status, await res.text()).toBe(201);
  return digest;
}
