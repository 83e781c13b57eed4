// Storage: bytes stored (each blob once, whatever repositories share it) against
// bytes referenced (each repository counted apart), and the GC backlog.
import { api, type Session } from './client.ts';
import { bytes, h, kv } from './dom.ts';

interface Totals {
  blobs: number;
  stored_bytes: number;
  referenced_bytes: number;
  manifests: number;
  manifest_bytes: number;
  repositories: number;
  gc_blobs: number;
  gc_links: number;
  gc_manifests: number;
}

export async function storage(main: HTMLElement, _session: Session): Promise<void> {
  const t = await api<Totals>('storage');
  const saved = Math.max(0, t.referenced_bytes - t.stored_bytes);
  const ratio = t.referenced_bytes > 0 ? t.stored_bytes / t.referenced_bytes : 1;
  main.append(
    h('h1', {}, 'Storage'),
    h('h2', {}, 'Global deduplication'),
    kv([
      ['Bytes stored', `${bytes(t.stored_bytes)} in ${t.blobs} blobs`],
      ['Bytes referenced', `${bytes(t.referenced_bytes)} across ${t.repositories} repositories`],
      ['Saved by dedupe', `${bytes(saved)} (${t.referenced_bytes > 0 ? Math.round((saved / t.referenced_bytes) * 100) : 0} %)`],
      ['Manifests', `${t.manifests} (${bytes(t.manifest_bytes)})`],
    ]),
    bar(ratio),
    h('h2', {}, 'Garbage collection backlog'),
    kv([
      ['Blobs awaiting review', String(t.gc_blobs)],
      ['Repository links awaiting review', String(t.gc_links)],
      ['Manifests awaiting review', String(t.gc_manifests)],
    ]),
    h('p', { class: 'muted' }, 'Entries wait out the review delay before the collector reclaims them; see docs/operations.md.'),
  );
}

/** Set through the CSSOM: the Content-Security-Policy refuses inline style attributes. */
function bar(ratio: number): HTMLElement {
  const fill = h('span', {});
  fill.style.width = `${Math.round(ratio * 100)}%`;
  return h('div', { class: 'bar', role: 'img', 'aria-label': `Stored is ${Math.round(ratio * 100)} % of referenced` }, fill);
}
