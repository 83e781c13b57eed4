// The web UI with BOLLARD_AUTH=token, in a real headless Chromium: an anonymous
// visitor sees no repository name; a user signs in with the password form and sees
// only what they may pull; an admin may delete; the session is an HttpOnly cookie.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type ServerProcess } from '../support/server.ts';
import { buildImages, cli, launch, openPage, pusher, shot, uiPrerequisites, visit, type Pusher } from './support.ts';

const READY = await uiPrerequisites('test/ui/auth.test.ts');
const ADMIN = 'ui-admin-password-1';
const ALICE = 'ui-alice-password-1';

describe.skipIf(!READY)('the web UI, token auth', () => {
  let server: ServerProcess;
  let browser: Browser;
  let p: Pusher;

  beforeAll(async () => {
    server = await startServer({ env: { BOLLARD_AUTH: 'token', BOLLARD_ADMIN_PASSWORD: ADMIN } });
    const run = cli(server, { BOLLARD_USER_PASSWORD: ALICE });
    await run('users', 'add', 'alice');
    await run('grants', 'add', 'alice', 'team/**', 'pull');
    [browser, p] = await Promise.all([launch(), pusher(server)]);
    const images = await buildImages(p.sandbox);
    await p.push(images, 'v1', 'team/app:v1', `admin:${ADMIN}`);
    await p.push(images, 'multi', 'secret/db:v1', `admin:${ADMIN}`);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.destroy();
    await p?.sandbox.remove();
  });

  test('an anonymous visitor is offered to sign in and sees no repository name', async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${server.url}/ui/`);
    await page.getByText('Sign in to see the repositories you may pull').waitFor();
    const body = (await page.locator('body').textContent()) ?? '';
    expect(body).not.toContain('team/app');
    expect(body).not.toContain('secret/db');
    await visit(page, `${server.url}/ui/#/repo?name=secret%2Fdb`);
    expect(await page.getByRole('alert').textContent()).toContain('No such repository, or you may not see it');
    await page.getByRole('link', { name: 'Sign in' }).first().waitFor();
    await shot(page, 'token-anonymous');
    expect(errors.filter((e) => !/40[134]|Failed to load resource/.test(e))).toEqual([]);
    await page.context().close();
  });

  test('a user signs in with the form, sees what they may pull only, and cannot delete', async () => {
    const { page } = await openPage(browser);
    await page.goto(`${server.url}/ui/`);
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByLabel('User name').fill('alice');
    await page.getByLabel('Password').fill('not-her-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await page.getByRole('alert').textContent()).toContain('Invalid user name or password');
    await shot(page, 'token-login-refused');
    await page.getByLabel('Password').fill(ALICE);
    await page.getByLabel('Password').press('Enter');
    await page.getByText('Signed in as alice').waitFor();
    await page.getByRole('link', { name: 'team/app' }).waitFor();
    expect(await page.locator('main').textContent()).not.toContain('secret/db');
    expect(await page.getByRole('link', { name: 'Storage' }).isVisible()).toBe(false);
    await shot(page, 'token-alice-home');
    // the session is an HttpOnly, SameSite=Strict cookie, and no token is in the URL
    const session = (await page.context().cookies()).find((c) => c.name === 'bollard_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/ui' });
    expect(page.url()).not.toMatch(/token|session|ey[A-Za-z0-9_-]{10}/);
    expect(await page.evaluate<string>('document.cookie')).not.toContain('bollard_session');
    await page.getByRole('link', { name: 'team/app' }).click();
    await page.getByRole('heading', { name: 'team/app', level: 1 }).waitFor();
    expect(await page.getByRole('button', { name: /Delete/ }).count()).toBe(0);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('Sign in to see the repositories you may pull').waitFor();
    await page.context().close();
  });

  test('an admin sees every repository and the storage page, and deletes a tag', async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${server.url}/ui/#/login`);
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'secret/db' }).waitFor();
    await page.getByRole('link', { name: 'Storage' }).click();
    await page.getByRole('heading', { name: 'Garbage collection backlog' }).waitFor();
    await visit(page, `${server.url}/ui/#/repo?name=secret%2Fdb`);
    expect(await page.getByRole('row', { name: /v1/ }).textContent()).toContain('linux/arm64/v8');
    await page.getByRole('button', { name: 'Delete tag v1' }).click();
    await page.getByText('This repository has no tags').waitFor();
    await shot(page, 'token-admin-deleted');
    expect(errors.filter((e) => !/40[134]|Failed to load resource/.test(e))).toEqual([]);
    await page.context().close();
  });
});
