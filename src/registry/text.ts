// Text a client sends that ends up in PostgreSQL must be text PostgreSQL can hold:
// a text column cannot hold U+0000, and a lone surrogate has no UTF-8 encoding
// (jsonb refuses both). Checked at the edge, so such values are the client's 400.

/** True when PostgreSQL can store the string as text and jsonb. */
export function isStorableText(s: string): boolean {
  return !s.includes('\u0000') && s.isWellFormed();
}

/**
 * The path to the first string (key or value) in a parsed JSON document that
 * PostgreSQL could not store, or null when there is none. Iterative: a
 * document nested a million levels deep must not overflow the stack.
 */
export function unstorableString(doc: unknown): string | null {
  const stack: Array<[unknown, string]> = [[doc, '$']];
  while (stack.length > 0) {
    const [value, path] = stack.pop() as [unknown, string];
    if (typeof value === 'string') {
      if (!isStorableText(value)) return path;
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) stack.push([value[i], `${path}[${i}]`]);
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (!isStorableText(k)) return `${path} (a key)`;
        stack.push([v, `${path}.${k}`]);
      }
    }
  }
  return null;
}
