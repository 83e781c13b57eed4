// Manifest bodies: valid ones built from the seeded blobs (so some pushes land),
// almost-valid ones (one field broken), and malformed JSON.
import { sha256 } from './honest.ts';
import type { Rng } from './prng.ts';
import { oddText, randomWord } from './garbage.ts';
import { CONFIG_TYPE, LAYER_TYPE, OCI_INDEX, OCI_MANIFEST, SIG_TYPE, type World } from './world.ts';

type Json = Record<string, unknown>;

export interface ManifestBody {
  body: Buffer;
  contentType: string;
  what: string;
}

/** A valid image manifest or index of the repository's seeded content. */
export function validManifest(rng: Rng, world: World, repo: string): Json {
  const blobs = world.blobsOf(repo);
  const images = world.manifestsOf(repo).filter((m) => m.mediaType === OCI_MANIFEST);
  if (blobs.length === 0 || images.length === 0 || rng.chance(0.8)) {
    const [config, ...layers] = blobs.length > 0 ? blobs : [{ digest: sha256(''), size: 0 }];
    const doc: Json = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: CONFIG_TYPE, digest: config?.digest, size: config?.size },
      layers: layers.filter(() => rng.chance(0.7)).map((l) => ({ mediaType: LAYER_TYPE, digest: l.digest, size: l.size })),
    };
    if (rng.chance(0.3)) doc['annotations'] = { 'org.example.fuzz': randomWord(rng), [`org.example.${randomWord(rng)}`]: randomWord(rng) };
    if (rng.chance(0.2) && images.length > 0) {
      const subject = rng.pick(images);
      doc['subject'] = { mediaType: OCI_MANIFEST, digest: subject.digest, size: Buffer.byteLength(subject.body) };
      doc['artifactType'] = SIG_TYPE;
    }
    return doc;
  }
  const children = images.filter(() => rng.chance(0.8));
  return { schemaVersion: 2, mediaType: OCI_INDEX, manifests: children.map((m) => ({ mediaType: OCI_MANIFEST, digest: m.digest, size: Buffer.byteLength(m.body) })) };
}

/** One field of a valid manifest broken. */
const BREAKS: Array<[string, (rng: Rng, doc: Json) => void]> = [
  ['no schemaVersion', (_r, d) => delete d['schemaVersion']],
  ['schemaVersion "2"', (_r, d) => (d['schemaVersion'] = '2')],
  ['schemaVersion 1', (_r, d) => (d['schemaVersion'] = 1)],
  ['no mediaType', (_r, d) => delete d['mediaType']],
  ['odd mediaType', (r, d) => (d['mediaType'] = oddText(r))],
  ['no config', (_r, d) => delete d['config']],
  ['config null', (_r, d) => (d['config'] = null)],
  ['layers not an array', (_r, d) => (d['layers'] = { 0: 'x' })],
  ['manifests not an array', (_r, d) => (d['manifests'] = 'x')],
  ['odd descriptor mediaType', (r, d) => descriptor(d, (x) => (x['mediaType'] = oddText(r)))],
  ['descriptor mediaType a number', (_r, d) => descriptor(d, (x) => (x['mediaType'] = 7))],
  ['odd digest', (r, d) => descriptor(d, (x) => (x['digest'] = r.pick(['sha256:zz', 'md5:abc', `sha256:${'0'.repeat(64)}\u0000`, oddText(r), `sha512:${'a'.repeat(128)}`])))],
  ['unknown blob', (r, d) => descriptor(d, (x) => (x['digest'] = `sha256:${r.hex(64)}`))],
  ['wrong size', (r, d) => descriptor(d, (x) => (x['size'] = r.pick([-1, 0, 1e300, 2 ** 53 + 1, '12', 1.5, null])))],
  ['annotations with odd text', (r, d) => (d['annotations'] = { [r.chance(0.5) ? oddText(r) : 'k']: oddText(r) })],
  ['annotations not strings', (r, d) => (d['annotations'] = r.pick([{ a: 1 }, ['x'], 'x', { a: null }]))],
  ['odd artifactType', (r, d) => (d['artifactType'] = oddText(r))],
  ['artifactType a number', (_r, d) => (d['artifactType'] = 1)],
  ['odd subject', (r, d) => (d['subject'] = r.pick([{}, 'x', { mediaType: OCI_MANIFEST, digest: oddText(r), size: 1 }, { mediaType: oddText(r), digest: `sha256:${r.hex(64)}`, size: 1 }]))],
  ['odd extra field', (r, d) => (d[oddText(r)] = oddText(r))],
];

function descriptor(doc: Json, change: (d: Json) => void): void {
  const list = [doc['config'], ...((doc['layers'] as unknown[]) ?? []), ...((doc['manifests'] as unknown[]) ?? [])].filter((x): x is Json => typeof x === 'object' && x !== null);
  const target = list[0];
  if (target) change(target);
}

/** Serialized text broken after the fact. */
const TEXT_BREAKS: Array<[string, (rng: Rng, text: string) => string]> = [
  ['truncated', (r, t) => t.slice(0, r.int(0, t.length - 1))],
  ['trailing garbage', (r, t) => t + r.pick(['x', '}', ',', '\u0000', ' {}'])],
  ['BOM', (_r, t) => `\ufeff${t}`],
  ['lone surrogate escape', (_r, t) => t.replace(/"schemaVersion"/, '"\\udead":"\\ud800","schemaVersion"')],
  ['NUL escape', (_r, t) => t.replace(/"schemaVersion"/, '"n\\u0000":"\\u0000","schemaVersion"')],
  ['duplicate keys', (_r, t) => t.replace(/^\{/, '{"schemaVersion":1,')],
  ['deep nesting', (r, t) => {
    const n = r.pick([100, 10_000, 200_000]);
    return t.replace(/^\{/, `{"x":${'['.repeat(n)}${']'.repeat(n)},`);
  }],
  ['not JSON', (r) => r.pick(['', 'null', '[]', '"x"', '{', 'schemaVersion: 2', '\u0000'])],
];

export function manifestBody(rng: Rng, world: World, repo: string): ManifestBody {
  const doc = validManifest(rng, world, repo);
  const contentType = rng.weighted<string>([
    [8, (doc['mediaType'] as string | undefined) ?? OCI_MANIFEST],
    [1, 'application/json'],
    [1, oddText(rng)],
    [1, 'application/vnd.docker.distribution.manifest.v2+json'],
  ]);
  const kind = rng.weighted<'valid' | 'field' | 'text' | 'huge'>([[30, 'valid'], [45, 'field'], [24, 'text'], [1, 'huge']]);
  if (kind === 'field') {
    const [what, breakIt] = rng.pick(BREAKS);
    breakIt(rng, doc);
    return { body: Buffer.from(JSON.stringify(doc)), contentType, what };
  }
  if (kind === 'text') {
    const [what, breakIt] = rng.pick(TEXT_BREAKS);
    return { body: Buffer.from(breakIt(rng, JSON.stringify(doc))), contentType, what };
  }
  if (kind === 'huge') {
    doc['annotations'] = { big: 'x'.repeat(rng.pick([3_000_000, 4_200_000])) };
    return { body: Buffer.from(JSON.stringify(doc)), contentType, what: 'huge' };
  }
  return { body: Buffer.from(JSON.stringify(doc)), contentType, what: 'valid' };
}
