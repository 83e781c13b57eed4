// Repository globs of permission rules: `*` matches within one path component,
// `**` across components, `?` one character other than '/'. The regex produced
// is anchored and valid both in JavaScript and in PostgreSQL (catalog filtering).
export function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      out += '.*';
      i++;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (/[a-z0-9/_-]/.test(c)) out += c;
    else out += `\\${c}`;
  }
  return `^${out}$`;
}

export function isValidGlob(glob: string): boolean {
  return /^[a-z0-9._/*?-]{1,255}$/.test(glob);
}

export function globMatches(glob: string, name: string): boolean {
  return new RegExp(globToRegex(glob)).test(name);
}

/** The literal characters before the glob's first wildcard: every name it matches starts with them. */
export function globPrefix(glob: string): string {
  const wildcard = glob.search(/[*?]/);
  return wildcard === -1 ? glob : glob.slice(0, wildcard);
}
