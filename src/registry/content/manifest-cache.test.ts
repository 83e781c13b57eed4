import { expect, test } from 'vitest';
import { ManifestCache } from './manifest-cache.ts';

const m = (digest: string) => ({ id: 1, digest, mediaType: 'x', content: Buffer.from(digest) });

test('a lookup that read before an invalidation may not store its stale result', () => {
  const c = new ManifestCache();
  c.setEnabled(true);
  const gen = c.generation('r'); // lookup starts, reads the old row...
  c.invalidate('r'); // ...a commit moves the tag meanwhile
  c.set('r', 'latest', m('old'), gen);
  expect(c.get('r', 'latest')).toBeNull();
  c.set('r', 'latest', m('new'), c.generation('r'));
  expect(c.get('r', 'latest')?.digest).toBe('new');
});

test('disabled (listener down) caches nothing and drops what it had', () => {
  const c = new ManifestCache();
  c.setEnabled(true);
  c.set('r', 't', m('a'), c.generation('r'));
  c.setEnabled(false);
  expect(c.get('r', 't')).toBeNull();
  c.set('r', 't', m('a'), c.generation('r'));
  c.setEnabled(true);
  expect(c.get('r', 't')).toBeNull();
});

test('entries expire after the TTL, and the byte budget evicts the oldest', async () => {
  const c = new ManifestCache({ ttlMs: 20, maxBytes: 16 * 10 });
  c.setEnabled(true);
  c.set('r', 'a', m('aaaaaaaaaa'), 0);
  await new Promise((r) => setTimeout(r, 30));
  expect(c.get('r', 'a')).toBeNull();
  const big = new ManifestCache({ maxBytes: 16 * 10 });
  big.setEnabled(true);
  for (const k of ['1', '2', '3']) big.set('r', k, { id: 1, digest: k, mediaType: 'x', content: Buffer.alloc(10) }, 0);
  big.set('r', '4', { id: 1, digest: '4', mediaType: 'x', content: Buffer.alloc(10) }, 0);
  expect(big.get('r', '4')).not.toBeNull();
});
