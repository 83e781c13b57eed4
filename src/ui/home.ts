// Home: the repositories the visitor may pull, searched by name, a page at a time
// (keyset pages: as fast at 100 000 repositories as at ten).
import { api, type Session } from './client.ts';
import { bytes, empty, h, when } from './dom.ts';

interface Summary {
  name: string;
  tags: number;
  lastPush: string | null;
  size: number;
}

export const HOME_PAGE = '50';

export async function home(main: HTMLElement, session: Session, params: URLSearchParams): Promise<void> {
  const q = params.get('q') ?? '';
  const last = params.get('last');
  const page = await api<{ repositories: Summary[]; next: string | null }>('repositories', { q, last, n: HOME_PAGE });
  const input = h('input', { id: 'search', type: 'search', name: 'q', value: q, autocomplete: 'off' });
  const form = h(
    'form',
    {
      class: 'toolbar',
      role: 'search',
      onsubmit: (e: Event) => {
        e.preventDefault();
        location.hash = `#/?q=${encodeURIComponent(input.value.trim())}`;
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'search' }, 'Search repositories'), input),
    h('button', { type: 'submit' }, 'Search'),
  );
  main.append(h('h1', {}, 'Repositories'), form);
  if (page.repositories.length === 0) {
    main.append(empty(emptyText(session, q, last)));
    return;
  }
  const rows = page.repositories.map((r) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, h('a', { href: `#/repo?name=${encodeURIComponent(r.name)}`, class: 'name' }, r.name)),
      h('td', { class: 'num' }, r.tags),
      h('td', { class: 'hide-narrow' }, when(r.lastPush)),
      h('td', { class: 'num' }, bytes(r.size)),
    ),
  );
  const table = h(
    'table',
    {},
    h('caption', { class: 'sr-only' }, q ? `Repositories matching “${q}”` : 'Repositories'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Repository'), h('th', { scope: 'col', class: 'num' }, 'Tags'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Last push'), h('th', { scope: 'col', class: 'num' }, 'Size'))),
    h('tbody', {}, ...rows),
  );
  main.append(h('div', { class: 'table-wrap' }, table));
  const nav = h('nav', { class: 'toolbar', 'aria-label': 'Pages' });
  if (last) nav.append(h('a', { href: `#/?q=${encodeURIComponent(q)}` }, 'First page'));
  if (page.next) nav.append(h('a', { href: `#/?q=${encodeURIComponent(q)}&last=${encodeURIComponent(page.next)}`, rel: 'next' }, 'Next page'));
  main.append(nav);
}

function emptyText(session: Session, q: string, last: string | null): string {
  if (q) return `No repository you may see has “${q}” in its name.`;
  if (last) return 'No more repositories.';
  if (session.auth === 'token' && !session.user) return 'No repositories to show. Sign in to see the repositories you may pull.';
  return 'No repositories yet. Push an image, e.g. podman push IMAGE ' + session.registry + '/NAME:TAG, and it appears here.';
}
