// The web UI's entry: reads the session, then routes on the URL's fragment
// (#/, #/repo?name=, #/manifest?name=&digest=, #/storage, #/login), so the server
// serves one page and no repository name ever reaches its access log from here.
import { api, ApiError, prefetch, type Session } from './client.ts';
import { errorBox, h } from './dom.ts';
import { home, HOME_PAGE } from './home.ts';

type View = (main: HTMLElement, session: Session, params: URLSearchParams) => Promise<void> | void;

let session: Session;

function header(): void {
  const who = document.getElementById('who') as HTMLElement;
  (document.getElementById('nav-storage') as HTMLElement).hidden = !session.admin;
  who.replaceChildren();
  if (session.auth !== 'token') return;
  if (session.user) {
    who.append(h('span', {}, `Signed in as ${session.user}`), h('button', { type: 'button', onclick: signOut }, 'Sign out'));
  } else {
    who.append(h('a', { href: `#/login?next=${encodeURIComponent(location.hash || '#/')}` }, 'Sign in'));
  }
}

async function signOut(): Promise<void> {
  await api('session', {}, 'DELETE').catch(() => undefined);
  await refreshSession();
  location.hash = '#/';
}

async function refreshSession(): Promise<void> {
  session = await api<Session>('session');
  header();
}

function place(): { path: string; params: URLSearchParams } {
  const hash = location.hash.replace(/^#/, '') || '/';
  const at = hash.indexOf('?');
  return { path: at < 0 ? hash : hash.slice(0, at), params: new URLSearchParams(at < 0 ? '' : hash.slice(at + 1)) };
}

async function route(): Promise<void> {
  const { path, params } = place();
  // the home page's module comes with the page; the others when first visited, so a first load fetches
  // no more files than a browser opens connections for (six per host over HTTP/1.1)
  const views: Record<string, View> = {
    '/': home,
    '/repo': async (m, s, p) => (await import('./repository.ts')).repository(m, s, p),
    '/manifest': async (m, s, p) => (await import('./manifest.ts')).manifest(m, s, p),
    '/storage': async (m, s) => (await import('./storage.ts')).storage(m, s),
    '/login': async (m, s, p) => (await import('./login.ts')).login(m, s, p, () => void refreshSession()),
  };
  const main = document.getElementById('main') as HTMLElement;
  const view = views[path];
  const fresh = h('main', { id: 'main', tabindex: '-1', 'aria-busy': 'true' });
  try {
    if (!view) fresh.append(h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the repositories')));
    else await view(fresh, session, params);
  } catch (err) {
    fresh.replaceChildren(h('h1', {}, 'Something went wrong'));
    fresh.append(errorBox(err instanceof ApiError ? explain(err) : `The page failed: ${String(err)}`));
    // an anonymous visitor is told that signing in may show more (a repository they may not see is "unknown")
    if (err instanceof ApiError && [401, 404].includes(err.status) && session.auth === 'token' && !session.user) {
      fresh.append(h('p', {}, h('a', { href: `#/login?next=${encodeURIComponent(location.hash)}` }, 'Sign in'), ' to see the repositories you may pull.'));
    }
  }
  fresh.removeAttribute('aria-busy');
  main.replaceWith(fresh);
  const title = fresh.querySelector('h1')?.textContent ?? 'Bollard';
  document.title = `${title} · Bollard`;
  // move focus to the new content so keyboard and screen-reader users land on it
  if (!fresh.contains(document.activeElement)) fresh.focus();
}

function explain(err: ApiError): string {
  if (err.code === 'NAME_UNKNOWN') return 'No such repository, or you may not see it.';
  if (err.code === 'MANIFEST_UNKNOWN') return 'No such manifest in this repository.';
  return err.message;
}

async function start(): Promise<void> {
  const first = place();
  // the home page's data is asked for with the session, not after it: one round trip less before the first render
  if (first.path === '/') prefetch('repositories', { q: first.params.get('q'), last: first.params.get('last'), n: HOME_PAGE });
  try {
    await refreshSession();
  } catch (err) {
    document.getElementById('main')?.replaceChildren(errorBox(err instanceof ApiError ? err.message : 'The registry cannot be reached.'));
    return;
  }
  window.addEventListener('hashchange', () => void route());
  await route();
  // when the first view is on screen: what bench/ui.ts reports as time to first render
  performance.mark('bollard:first-view');
}

void start();
