// A repository: its tags (sortable by name and push time), pull commands with the
// registry's own address, its event journal and the policies that govern it.
import { api, ApiError, type Session } from './client.ts';
import { announce, bytes, copyable, empty, errorBox, h, shortDigest, when } from './dom.ts';
import type { Platform, TagView } from '../shared/ui-views.ts';

interface RepoView {
  name: string;
  tags: TagView[];
  truncated: boolean;
  canDelete: boolean;
  retention: { repositoryGlob: string; keepLast: number | null; keepRegex: string | null; untaggedDelaySeconds: number | null; unpulledDelaySeconds: number | null } | null;
  immutable: Array<{ id: number; repositoryGlob: string; tagPattern: string }>;
}
interface EventView {
  id: number;
  kind: string;
  time: string;
  digest: string | null;
  tag: string | null;
  actor: string | null;
}

export function platformText(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

export function repoLink(name: string, tab?: string): string {
  return `#/repo?name=${encodeURIComponent(name)}${tab ? `&tab=${tab}` : ''}`;
}

export function manifestLink(name: string, digest: string): string {
  return `#/manifest?name=${encodeURIComponent(name)}&digest=${encodeURIComponent(digest)}`;
}

export async function repository(main: HTMLElement, session: Session, params: URLSearchParams): Promise<void> {
  const name = params.get('name') ?? '';
  const tab = params.get('tab') ?? 'tags';
  main.append(h('h1', { class: 'wrap' }, name));
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Repository' });
  for (const [id, label] of [['tags', 'Tags'], ['activity', 'Activity'], ['policies', 'Policies']] as const) {
    tabs.append(h('a', { href: repoLink(name, id), 'aria-current': tab === id ? 'page' : null }, label));
  }
  main.append(tabs);
  if (tab === 'activity') return activity(main, name, params.get('before'));
  const view = await api<RepoView>('repository', { name });
  if (tab === 'policies') return policies(main, view);
  tags(main, session, view, params.get('sort') ?? 'name');
}

function tags(main: HTMLElement, session: Session, view: RepoView, sort: string): void {
  if (view.tags.length === 0) {
    main.append(empty('This repository has no tags. Its manifests are still reachable by digest.'));
    return;
  }
  main.append(h('h2', {}, 'Pull'), pullCommands(session.registry, view));
  const sorted = [...view.tags];
  if (sort === 'pushed') sorted.sort((a, b) => (a.pushedAt < b.pushedAt ? 1 : a.pushedAt > b.pushedAt ? -1 : 0));
  const problem = h('div', {});
  const sortButton = (key: string, label: string) =>
    h('th', { scope: 'col', 'aria-sort': sort === key ? (key === 'pushed' ? 'descending' : 'ascending') : null },
      h('a', { href: `${repoLink(view.name)}&sort=${key}`, 'aria-label': `${label}, sort by ${label.toLowerCase()}` }, label, sort === key ? (key === 'pushed' ? ' ↓' : ' ↑') : ''));
  const rows = sorted.map((t) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, h('a', { href: manifestLink(view.name, t.digest), class: 'name' }, t.name)),
      h('td', { class: 'mono hide-narrow', title: t.digest }, shortDigest(t.digest)),
      h('td', { class: 'hide-narrow wrap' }, t.mediaType),
      h('td', { class: 'num' }, bytes(t.size)),
      h('td', {}, t.platforms.map(platformText).join(', ') || '—'),
      h('td', {}, when(t.pushedAt)),
      view.canDelete ? h('td', {}, h('button', { type: 'button', class: 'danger', 'aria-label': `Delete tag ${t.name}`, onclick: () => deleteTag(view.name, t.name, problem) }, 'Delete')) : null,
    ),
  );
  const head = h('tr', {}, sortButton('name', 'Tag'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Digest'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Media type'),
    h('th', { scope: 'col', class: 'num' }, 'Size'), h('th', { scope: 'col' }, 'Platforms'), sortButton('pushed', 'Pushed'), view.canDelete ? h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')) : null);
  main.append(h('h2', {}, `Tags (${view.tags.length}${view.truncated ? '+' : ''})`), problem,
    h('div', { class: 'table-wrap' }, h('table', {}, h('caption', { class: 'sr-only' }, `Tags of ${view.name}`), h('thead', {}, head), h('tbody', {}, ...rows))));
}

function pullCommands(registry: string, view: RepoView): HTMLElement {
  const first = view.tags.find((t) => t.name === 'latest') ?? view.tags[0];
  const box = h('div', { class: 'pull' });
  const select = h('select', { id: 'pull-tag' }, ...view.tags.slice(0, 500).map((t) => h('option', { value: t.name, selected: t === first }, t.name)));
  const fill = () => {
    const ref = `${registry}/${view.name}:${select.value}`;
    box.replaceChildren(
      ...copyable('podman', `podman pull ${ref}`),
      ...copyable('docker', `docker pull ${ref}`),
      ...copyable('oras', `oras pull ${ref}`),
      ...copyable('skopeo', `skopeo copy docker://${ref} oci:${view.name.split('/').pop()}:${select.value}`),
    );
  };
  select.addEventListener('change', fill);
  fill();
  return h('div', {}, h('div', { class: 'toolbar' }, h('div', { class: 'field' }, h('label', { for: 'pull-tag' }, 'Tag to pull'), select)), box);
}

async function deleteTag(name: string, tag: string, problem: HTMLElement): Promise<void> {
  if (!confirm(`Delete tag ${tag} of ${name}? The manifest stays, reachable by digest.`)) return;
  problem.replaceChildren();
  try {
    await api('tag', { name, tag }, 'DELETE');
    announce(`Tag ${tag} deleted`);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } catch (err) {
    problem.append(errorBox(`Tag ${tag} was not deleted: ${err instanceof ApiError ? err.message : String(err)}`));
    problem.querySelector('p')?.focus();
  }
}

async function activity(main: HTMLElement, name: string, before: string | null): Promise<void> {
  const page = await api<{ events: EventView[]; next: string | null }>('events', { name, before, limit: '100' });
  if (page.events.length === 0) {
    main.append(empty(before ? 'No older events.' : 'No events recorded for this repository yet.'));
    return;
  }
  const rows = page.events.map((e) =>
    h('tr', {}, h('td', {}, when(e.time)), h('td', {}, e.kind), h('td', { class: 'wrap' }, e.tag ?? ''),
      h('td', { class: 'mono wrap', title: e.digest ?? '' }, e.digest ? shortDigest(e.digest) : ''), h('td', { class: 'hide-narrow' }, e.actor ?? '')),
  );
  main.append(h('div', { class: 'table-wrap' }, h('table', {}, h('caption', { class: 'sr-only' }, `Events of ${name}, newest first`),
    h('thead', {}, h('tr', {}, ...['When', 'Event', 'Tag', 'Digest'].map((c) => h('th', { scope: 'col' }, c)), h('th', { scope: 'col', class: 'hide-narrow' }, 'Actor'))),
    h('tbody', {}, ...rows))));
  const nav = h('nav', { class: 'toolbar', 'aria-label': 'Pages' });
  if (before) nav.append(h('a', { href: repoLink(name, 'activity') }, 'Newest events'));
  if (page.next) nav.append(h('a', { href: `${repoLink(name, 'activity')}&before=${page.next}`, rel: 'next' }, 'Older events'));
  main.append(nav);
}

function policies(main: HTMLElement, view: RepoView): void {
  main.append(h('h2', {}, 'Retention policy'));
  const r = view.retention;
  if (!r) main.append(empty('No retention policy governs this repository: nothing is deleted by age or count.'));
  else {
    const list = h('ul', {}, h('li', {}, `Policy for repositories “${r.repositoryGlob}”`));
    if (r.keepLast !== null) list.append(h('li', {}, `Keeps the ${r.keepLast} most recently pushed tags`));
    if (r.unpulledDelaySeconds !== null) list.append(h('li', {}, `Deletes tags and untagged manifests neither pushed nor pulled for ${r.unpulledDelaySeconds} s`));
    if (r.keepRegex !== null) list.append(h('li', {}, `Always keeps tags matching /${r.keepRegex}/`));
    list.append(h('li', {}, r.untaggedDelaySeconds === null ? 'Keeps untagged manifests' : `Deletes untagged manifests after ${r.untaggedDelaySeconds} s`));
    main.append(list);
  }
  main.append(h('h2', {}, 'Immutable tags'));
  if (view.immutable.length === 0) main.append(empty('No immutable-tag rule applies: tags may be moved and deleted.'));
  else main.append(h('ul', {}, ...view.immutable.map((i) => h('li', {}, `Rule #${i.id}: tags matching /${i.tagPattern}/ in “${i.repositoryGlob}” cannot be moved or deleted`))));
}
