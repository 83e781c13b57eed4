// A manifest: what it is, its image config, layers, annotations, an index's
// children, the referrers (signatures, SBOMs, attestations) by artifactType, the
// raw JSON; deleting it or one of its tags, with the registry's reason when refused.
import { api, ApiError, type Session } from './client.ts';
import { announce, append, bytes, empty, errorBox, h, kv, shortDigest, when } from './dom.ts';
import { manifestLink, platformText, repoLink } from './repository.ts';
import type { ConfigView, DescriptorView, ManifestView } from '../shared/ui-views.ts';

interface ManifestPage extends ManifestView {
  canDelete: boolean;
}

function annotationList(a: Record<string, unknown>): HTMLElement {
  return kv(Object.entries(a).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

function descriptorTable(caption: string, list: DescriptorView[], link: ((d: DescriptorView) => string) | null, first: string): HTMLElement {
  const rows = list.map((d, i) =>
    h('tr', {},
      h('td', { class: 'wrap' }, d.platform ? platformText(d.platform) : first === '#' ? String(i + 1) : (d.artifactType ?? '—')),
      h('td', { class: 'mono wrap', title: d.digest }, link ? h('a', { href: link(d) }, shortDigest(d.digest)) : shortDigest(d.digest)),
      h('td', { class: 'wrap hide-narrow' }, d.mediaType),
      h('td', { class: 'num' }, bytes(d.size))),
  );
  return h('div', { class: 'table-wrap' }, h('table', {}, h('caption', { class: 'sr-only' }, caption),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, first), h('th', { scope: 'col' }, 'Digest'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Media type'), h('th', { scope: 'col', class: 'num' }, 'Size'))),
    h('tbody', {}, ...rows)));
}

function listText(v: string[]): string | null {
  return v.length > 0 ? v.join(' ') : null;
}

function configSection(c: ConfigView): HTMLElement[] {
  const out: HTMLElement[] = [h('h2', {}, 'Image configuration')];
  out.push(kv([
    ['Platform', c.os && c.architecture ? platformText({ os: c.os, architecture: c.architecture, ...(c.variant ? { variant: c.variant } : {}) }) : null],
    ['Created', c.created ? when(c.created) : null],
    ['Entrypoint', listText(c.entrypoint)],
    ['Command', listText(c.cmd)],
    ['Working directory', c.workingDir ?? null],
    ['User', c.user ?? null],
  ]));
  if (c.env.length > 0) out.push(h('h3', {}, 'Environment'), h('ul', { class: 'mono' }, ...c.env.map((e) => h('li', { class: 'wrap' }, e))));
  if (Object.keys(c.labels).length > 0) out.push(h('h3', {}, 'Labels'), annotationList(c.labels));
  if (c.history.length > 0) {
    out.push(h('h3', {}, 'History'), h('ol', {}, ...c.history.map((s) => h('li', {}, h('code', { class: 'wrap' }, s.createdBy ?? s.comment ?? '(no command)'), s.emptyLayer ? h('span', { class: 'muted' }, ' (no layer)') : null))));
  }
  return out;
}

export async function manifest(main: HTMLElement, _session: Session, params: URLSearchParams): Promise<void> {
  const name = params.get('name') ?? '';
  const m = await api<ManifestPage>('manifest', { name, digest: params.get('digest'), tag: params.get('tag') });
  const problem = h('div', {});
  main.append(
    h('p', {}, h('a', { href: repoLink(name) }, `← ${name}`)),
    h('h1', { class: 'wrap' }, `${name}@${shortDigest(m.digest)}`),
    problem,
    kv([
      ['Digest', h('code', { class: 'wrap' }, m.digest)],
      ['Media type', m.mediaType],
      ['Artifact type', m.artifactType ?? null],
      ['Manifest size', bytes(m.size)],
      ['Pushed', when(m.createdAt)],
      ['Subject', m.subject ? h('a', { href: manifestLink(name, m.subject.digest) }, shortDigest(m.subject.digest)) : null],
    ]),
  );
  main.append(h('h2', {}, 'Tags'));
  if (m.tags.length === 0) main.append(empty('No tag names this manifest.'));
  else {
    main.append(h('ul', {}, ...m.tags.map((t) => h('li', {}, t, ' ', m.canDelete ? h('button', { type: 'button', class: 'link', 'aria-label': `Delete tag ${t}`, onclick: () => remove(name, problem, { tag: t }) }, 'delete tag') : null))));
  }
  if (m.image) append(main, configSection(m.image));
  else if (m.config) main.append(h('h2', {}, 'Configuration'), kv([['Media type', m.config.mediaType], ['Digest', m.config.digest], ['Size', bytes(m.config.size)]]));
  if (m.layers.length > 0) {
    const total = m.layers.reduce((n, l) => n + l.size, 0);
    main.append(h('h2', {}, `Layers (${m.layers.length}, ${bytes(total)})`), descriptorTable('Layers', m.layers, null, '#'));
  }
  if (m.children.length > 0) main.append(h('h2', {}, `Manifests of this index (${m.children.length})`), descriptorTable('Manifests of this index', m.children, (d) => manifestLink(name, d.digest), 'Platform'));
  if (Object.keys(m.annotations).length > 0) main.append(h('h2', {}, 'Annotations'), annotationList(m.annotations));
  main.append(h('h2', {}, 'Referrers'));
  const groups = Object.entries(m.referrers);
  if (groups.length === 0) main.append(empty('No signature, SBOM or attestation refers to this manifest.'));
  for (const [type, list] of groups) main.append(h('h3', { class: 'wrap' }, `${type} (${list.length})`), descriptorTable(`Referrers of type ${type}`, list, (d) => manifestLink(name, d.digest), 'Artifact type'));
  main.append(h('details', {}, h('summary', {}, 'Raw JSON'), h('pre', { tabindex: '0', 'aria-label': 'Raw manifest JSON' }, pretty(m.raw))));
  if (m.canDelete) {
    main.append(h('h2', {}, 'Delete'), h('p', {}, h('button', { type: 'button', class: 'danger', onclick: () => remove(name, problem, { digest: m.digest }) }, 'Delete this manifest')));
  }
}

function pretty(raw: string): string {
  try {
    return JSON.stringify(JSON.parse(raw), null, 2);
  } catch {
    return raw;
  }
}

async function remove(name: string, problem: HTMLElement, what: { tag: string } | { digest: string }): Promise<void> {
  const label = 'tag' in what ? `tag ${what.tag}` : `manifest ${shortDigest(what.digest)} and its tags`;
  if (!confirm(`Delete ${label} from ${name}?`)) return;
  problem.replaceChildren();
  try {
    if ('tag' in what) await api('tag', { name, tag: what.tag }, 'DELETE');
    else await api('manifest', { name, digest: what.digest }, 'DELETE');
    announce(`Deleted ${label}`);
    if ('tag' in what) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = repoLink(name);
  } catch (err) {
    const box = errorBox(`Not deleted: ${err instanceof ApiError ? err.message : String(err)}`);
    box.tabIndex = -1;
    problem.append(box);
    box.focus();
  }
}
