// The web UI with auth off, in a real headless Chromium: images pushed with
// skopeo, then browsed, inspected and deleted as a person would, with what each
// page shows asserted and a screenshot kept (test-results/ui/).
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type ServerProcess } from '../support/server.ts';
import { buildImages, cli, launch, openPage, pushReferrer, pusher, shot, uiPrerequisites, visit, type Images, type Pusher } from './support.ts';

const READY = await uiPrerequisites('test/ui/browse.test.ts');
const SIG_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';

describe.skipIf(!READY)('the web UI, auth off', () => {
  let server: ServerProcess;
  let browser: Browser;
  let p: Pusher;
  let images: Images;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    server = await startServer();
    [browser, p] = await Promise.all([launch(), pusher(server)]);
    images = await buildImages(p.sandbox);
    await p.push(images, 'v1', 'ui/app:v1');
    await p.push(images, 'multi', 'ui/app:multi');
    await p.push(images, 'v1', 'other/tool:stable');
    await pushReferrer(server, 'ui/app', images.single.manifest, SIG_TYPE);
    await cli(server)('immutable', 'add', 'ui/**', 'v[0-9]+');
    ({ page, errors } = await openPage(browser));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.destroy();
    await p?.sandbox.remove();
  });

  test('the page is served with a strict CSP and no inline script', async () => {
    const res = await fetch(`${server.url}/ui/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    const html = await res.text();
    expect(html).not.toMatch(/<script>(?!<\/script>)|<script(?![^>]*src=)[^>]*>/);
    expect((await fetch(`${server.url}/ui`, { redirect: 'manual' })).status).toBe(301);
    const bad = await fetch(`${server.url}/ui/api/repositories?n=abc`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: Array<{ code: string }> }).errors[0]?.code).toBe('PAGINATION_NUMBER_INVALID');
    expect((await fetch(`${server.url}/ui/api/manifest?name=ui/app&digest=nope`)).status).toBe(400);
    expect((await fetch(`${server.url}/ui/api/nothing`)).status).toBe(404);
  });

  test('home lists the repositories with tag counts and sizes, and searches them', async () => {
    await page.goto(`${server.url}/ui/`);
    const rows = page.getByRole('row');
    await expect.poll(() => rows.count()).toBe(3);
    const app = page.getByRole('row', { name: /ui\/app/ });
    expect(await app.getByRole('cell').allTextContents()).toEqual(['2', expect.stringMatching(/2\d{3}/), expect.stringMatching(/^\d+ KiB$/)]);
    await shot(page, 'off-home');
    await page.getByLabel('Search repositories').fill('tool');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('row').count()).toBe(2);
    expect(await page.locator('main').textContent()).toContain('other/tool');
    expect(await page.locator('main').textContent()).not.toContain('ui/app');
    await page.getByLabel('Search repositories').fill('no-such-thing');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('.empty').textContent()).toContain('No repository');
  });

  test('a repository: tags with platforms, sortable, and pull commands with our address', async () => {
    await visit(page, `${server.url}/ui/#/`);
    await page.getByRole('link', { name: 'ui/app' }).click();
    await page.getByRole('heading', { name: 'ui/app', level: 1 }).waitFor();
    const multi = page.getByRole('row', { name: /multi/ });
    expect(await multi.textContent()).toContain('linux/amd64, linux/arm64/v8');
    expect(await multi.textContent()).toContain('application/vnd.oci.image.index.v1+json');
    const pull = await page.getByLabel('podman', { exact: true }).inputValue();
    expect(pull).toMatch(new RegExp(`^podman pull ${server.hostPort.replace(/\./g, '\\.')}/ui/app:(v1|multi)$`));
    for (const tool of ['docker', 'oras', 'skopeo']) expect(await page.getByLabel(tool, { exact: true }).inputValue()).toContain(`${server.hostPort}/ui/app:`);
    await page.getByRole('button', { name: 'Copy the podman command' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toBe('podman command copied');
    const names = () => page.locator('tbody th').allTextContents();
    expect(await names()).toEqual(['multi', 'v1']);
    await page.getByRole('link', { name: /Pushed, sort/ }).click();
    await expect.poll(names).toEqual(['multi', 'v1']); // multi was pushed last
    await shot(page, 'off-repository');
  });

  test('a manifest: config, layers, referrers by artifactType, raw JSON', async () => {
    await visit(page, `${server.url}/ui/#/repo?name=ui%2Fapp`);
    await page.getByRole('link', { name: 'v1' }).click();
    await page.getByRole('heading', { name: 'Image configuration' }).waitFor();
    const main = (await page.locator('main').textContent()) ?? '';
    expect(main).toContain(images.single.manifest.digest);
    expect(main).toContain('linux/amd64');
    expect(main).toContain('/usr/bin/hello');
    expect(main).toContain('PATH=/usr/local/sbin');
    expect(main).toContain('bollard e2e layer 1');
    expect(main).toMatch(/Layers \(2,/);
    await page.getByRole('heading', { name: `${SIG_TYPE} (1)` }).waitFor();
    await page.getByText('Raw JSON').click();
    expect(await page.getByLabel('Raw manifest JSON').textContent()).toContain('"schemaVersion": 2');
    await shot(page, 'off-manifest');
  });

  test('an index shows its children; a child links to its own page', async () => {
    await visit(page, `${server.url}/ui/#/repo?name=ui%2Fapp`);
    await page.getByRole('link', { name: 'multi' }).click();
    await page.getByRole('heading', { name: /Manifests of this index \(2\)/ }).waitFor();
    await page.getByRole('row', { name: /linux\/arm64\/v8/ }).getByRole('link').click();
    await page.getByRole('heading', { name: 'Image configuration' }).waitFor();
    expect(await page.locator('main').textContent()).toContain('linux/arm64/v8');
    // a manifest an index lists is referenced content: its deletion is refused, and the page says why
    await page.getByRole('button', { name: 'Delete this manifest' }).click();
    expect(await page.getByRole('alert').textContent()).toMatch(/Not deleted: .*index/);
    await shot(page, 'off-delete-referenced');
  });

  test('deleting: an immutable tag is refused with the reason; another tag goes', async () => {
    await visit(page, `${server.url}/ui/#/repo?name=ui%2Fapp`);
    await page.getByRole('button', { name: 'Delete tag v1' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/Tag v1 was not deleted: .*immutable rule/);
    await shot(page, 'off-delete-refused');
    await page.getByRole('button', { name: 'Delete tag multi' }).click();
    await expect.poll(() => page.locator('tbody th').allTextContents()).toEqual(['v1']);
    expect((await fetch(`${server.url}/v2/ui/app/manifests/multi`)).status).toBe(404);
    // the referenced manifest (the v1 image carries a referrer, and an immutable tag) stays
    await page.getByRole('link', { name: 'Policies' }).click();
    await page.getByText(/Rule #\d+: tags matching \/v\[0-9\]\+\//).waitFor();
    await page.getByRole('link', { name: 'Activity' }).click();
    await page.getByRole('cell', { name: 'tag.delete' }).first().waitFor();
    await shot(page, 'off-activity');
  });

  test('storage: bytes stored against referenced, GC backlog', async () => {
    await visit(page, `${server.url}/ui/#/storage`);
    await page.getByRole('heading', { name: 'Garbage collection backlog' }).waitFor();
    const text = (await page.locator('main').textContent()) ?? '';
    expect(text).toMatch(/Saved by dedupe\s*[\d.]+ KiB/); // other/tool shares ui/app's v1 layers
    await shot(page, 'off-storage');
  });

  test('at phone width the pages stay usable, and keyboard focus lands on the content', async () => {
    const phone = await openPage(browser, { width: 375 });
    await phone.page.goto(`${server.url}/ui/#/repo?name=ui%2Fapp`);
    await phone.page.getByRole('heading', { name: 'ui/app', level: 1 }).waitFor();
    const overflow = await phone.page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await phone.page.evaluate<string>('document.activeElement?.id')).toBe('main');
    await shot(phone.page, 'off-phone-repository');
    // the keyboard: the first Tab reaches the skip link, which leads to the content
    await visit(phone.page, `${server.url}/ui/#/`);
    await phone.page.getByRole('heading', { name: 'Repositories', level: 1 }).waitFor();
    expect(await phone.page.evaluate<string>("document.querySelector('a, button, input, select')?.textContent")).toBe('Skip to content');
    // focus is on the new content after a navigation, so the next Tab reaches its first control
    await phone.page.keyboard.press('Tab');
    expect(await phone.page.evaluate<string>('document.activeElement?.id')).toBe('search');
    await visit(phone.page, `${server.url}/ui/#/repo?name=no%2Fsuch`);
    expect(await phone.page.getByRole('alert').textContent()).toContain('No such repository');
    expect(phone.errors.filter((e) => !/404|Failed to load resource/.test(e))).toEqual([]);
    await phone.page.context().close();
  });

  test('no console errors (a CSP violation would be one)', () => {
    expect(errors.filter((e) => !/404|Failed to load resource/.test(e))).toEqual([]);
  });
});
