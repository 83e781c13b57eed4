// Tiny DOM helpers: elements are built with h() and text nodes, never from HTML
// strings, so nothing a registry holds (names, annotations, history) can inject markup.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | null | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2), v as (e: Event) => void);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

// one formatter for every date: building one per call (what toLocaleString does) costs a table of 50 rows tens of ms
let dates: Intl.DateTimeFormat | null = null;

export function when(iso: string | null | undefined): Node {
  if (!iso) return document.createTextNode('—');
  const d = new Date(iso);
  dates ??= new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  return h('time', { datetime: iso, title: d.toISOString() }, dates.format(d));
}

export function shortDigest(d: string): string {
  const at = d.indexOf(':');
  return at < 0 ? d : `${d.slice(0, at + 1)}${d.slice(at + 1, at + 13)}`;
}

/** Tells screen readers what just happened. */
export function announce(text: string): void {
  const s = document.getElementById('status');
  if (s) s.textContent = text;
}

export function errorBox(message: string): HTMLElement {
  return h('p', { class: 'error', role: 'alert' }, message);
}

export function empty(message: string): HTMLElement {
  return h('p', { class: 'empty' }, message);
}

/** A read-only command line and a button copying it. */
export function copyable(label: string, text: string): Node[] {
  const id = `cmd-${label.toLowerCase().replace(/[^a-z0-9]/g, '')}`;
  const input = h('input', { id, type: 'text', readonly: true, value: text });
  const button = h('button', {
    type: 'button',
    'aria-label': `Copy the ${label} command`,
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
      } catch {
        input.select(); // no clipboard access (plain http on another host): leave it selected to copy by hand
        document.execCommand?.('copy');
      }
      announce(`${label} command copied`);
    },
  }, 'Copy');
  return [h('label', { for: id }, label), input, button];
}

export function kv(pairs: Array<[string, Child]>): HTMLElement {
  const dl = h('dl', { class: 'kv' });
  for (const [k, v] of pairs) if (v !== undefined && v !== null && v !== '') append(dl, [h('dt', {}, k), h('dd', {}, v)]);
  return dl;
}
