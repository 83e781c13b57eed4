// Scopes and access entries of the Docker token spec: "repository:team/app:pull,push",
// "registry:catalog:*". A repository name may hold a ':' (host:port/...), so the
// type ends at the first ':' and the actions start after the last one.
export type Action = 'pull' | 'push' | 'delete';
export const ACTIONS: readonly Action[] = ['pull', 'push', 'delete'];

/** One entry of a token's `access` claim. */
export interface Access {
  type: string;
  name: string;
  actions: string[];
}

export function parseScope(text: string): Access | null {
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first <= 0 || last === first) return null;
  const actions = text.slice(last + 1).split(',').filter((a) => a !== '');
  return { type: text.slice(0, first), name: text.slice(first + 1, last), actions };
}

/** Scopes from repeated `scope` parameters, each possibly space-separated; unparsable ones are dropped. */
export function parseScopes(values: readonly string[]): Access[] {
  const out: Access[] = [];
  for (const v of values) for (const s of v.split(' ')) {
    const a = s === '' ? null : parseScope(s);
    if (a) out.push(a);
  }
  return mergeAccess(out);
}

export function formatScope(a: Access): string {
  return `${a.type}:${a.name}:${a.actions.join(',')}`;
}

/** One entry per (type, name), actions united and in a stable order. */
export function mergeAccess(list: readonly Access[]): Access[] {
  const byKey = new Map<string, Access>();
  for (const a of list) {
    const key = `${a.type}\u0000${a.name}`;
    const seen = byKey.get(key);
    if (seen) seen.actions = [...new Set([...seen.actions, ...a.actions])];
    else byKey.set(key, { type: a.type, name: a.name, actions: [...new Set(a.actions)] });
  }
  for (const a of byKey.values()) a.actions.sort(actionOrder);
  return [...byKey.values()];
}

function actionOrder(x: string, y: string): number {
  const ix = ACTIONS.indexOf(x as Action);
  const iy = ACTIONS.indexOf(y as Action);
  return (ix < 0 ? 99 : ix) - (iy < 0 ? 99 : iy) || (x < y ? -1 : x > y ? 1 : 0);
}

/** The needed actions that `granted` lacks for the needed entry. */
export function missingActions(granted: readonly Access[], need: Access): string[] {
  const have = new Set<string>();
  for (const g of granted) {
    if (g.type === need.type && g.name === need.name) for (const a of g.actions) have.add(a);
  }
  if (have.has('*')) return [];
  return need.actions.filter((a) => !have.has(a));
}
