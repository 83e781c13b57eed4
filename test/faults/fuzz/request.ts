// The request the generator builds and the framing turns into bytes, and the
// small parts the endpoint generators share: names, digests, references, queries.
import { encodeText, escape, oddQueryValue, oddText, randomWord } from './garbage.ts';
import type { Rng } from './prng.ts';
import type { Session, World } from './world.ts';

export type Header = [string, string | Buffer];

export interface FuzzRequest {
  /** The endpoint aimed at, for the report ("PATCH upload", "GET catalog", ...). */
  label: string;
  method: string;
  /** The request-target as it goes on the wire (path and query, raw bytes allowed). */
  target: Buffer;
  headers: Header[];
  body: Buffer;
  /** The upload session lent to this request, given back when its answer is in. */
  session: Session | null;
  /** What is odd about it, for the report. */
  notes: string[];
}

export function request(label: string, method: string, target: string, init: Partial<FuzzRequest> = {}): FuzzRequest {
  return { label, method, target: Buffer.from(target, 'utf8'), headers: [], body: Buffer.alloc(0), session: null, notes: [], ...init };
}

/** A repository name: mostly a seeded one, sometimes one no registry accepts. */
export function repoName(rng: Rng, world: World): string {
  if (rng.chance(0.9)) return rng.pick(world.repos);
  return rng.pick([
    'UPPER/case',
    'a//b',
    '-lead',
    'fuzz/new-' + randomWord(rng),
    'a'.repeat(300),
    encodeText(oddText(rng)),
    `fuzz/${escape(rng)}`,
    'fuzz/alpha/..',
    '_catalog',
  ]);
}

/** A digest: of seeded content, unknown, or malformed. */
export function digestRef(rng: Rng, known: readonly string[]): string {
  return rng.weighted<() => string>([
    [6, () => (known.length > 0 ? rng.pick(known) : `sha256:${rng.hex(64)}`)],
    [2, () => `sha256:${rng.hex(64)}`],
    [1, () => `sha512:${rng.hex(128)}`],
    [2, () => rng.pick(['sha256:zz', `sha256:${rng.hex(63)}`, `SHA256:${rng.hex(64)}`, `md5:${rng.hex(32)}`, `sha256:${'G'.repeat(64)}`, 'sha256:', ':', encodeText(oddText(rng)), escape(rng)])],
  ])();
}

/** A manifest reference: a tag (seeded, new or malformed) or a digest. */
export function manifestRef(rng: Rng, world: World, repo: string): string {
  if (rng.chance(0.45)) return digestRef(rng, world.manifestsOf(repo).map((m) => m.digest));
  return rng.weighted<() => string>([
    [5, () => rng.pick(world.tags)],
    [3, () => `t${rng.int(0, 40)}`],
    [2, () => rng.pick(['-bad', '.bad', 'x'.repeat(129), encodeText(oddText(rng)), escape(rng), 'a:b', ''])],
  ])();
}

/** A query string from the pairs, each value sometimes replaced by a hostile one; '' when empty. */
export function query(rng: Rng, pairs: ReadonlyArray<[string, string | null]>): string {
  const parts: string[] = [];
  for (const [k, v] of pairs) {
    if (v === null) continue;
    const value = rng.chance(0.15) ? oddQueryValue(rng) : v;
    parts.push(`${k}=${value}`);
    if (rng.chance(0.04)) parts.push(`${k}=${oddQueryValue(rng)}`); // repeated parameter
  }
  if (rng.chance(0.05)) parts.push(rng.pick(['=', '&&', 'novalue', `${oddQueryValue(rng)}=${oddQueryValue(rng)}`]));
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

/** A page size: usual, zero, huge or malformed. */
export function pageSize(rng: Rng): string | null {
  return rng.weighted<string | null>([
    [5, null],
    [4, String(rng.int(0, 5))],
    [1, rng.pick(['-1', '1.5', '99999999999999999999999', '0x10', 'abc', ''])],
  ]);
}
