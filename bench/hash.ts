// Measures candidate BLAKE3 implementations (and SHA-256 for scale) on this
// machine, so src/digest/blake3.ts can use the fastest correct one.
// Run: node bench/hash.ts [MiB]
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Blake3Hasher } from '@napi-rs/blake-hash';
import { createBLAKE3 } from 'hash-wasm';

const require = createRequire(import.meta.url);
const totalMiB = Number(process.argv[2] ?? 512);
const chunk = randomBytes(1 << 20);

interface Candidate {
  name: string;
  make: () => Promise<{ update(b: Buffer): unknown; hex(): string }>;
}

const candidates: Candidate[] = [
  {
    name: '@napi-rs/blake-hash (native)',
    make: async () => {
      const h = new Blake3Hasher();
      return { update: (b) => h.update(b), hex: () => h.digest('hex') };
    },
  },
  {
    name: 'hash-wasm createBLAKE3 (wasm)',
    make: async () => {
      const h = await createBLAKE3();
      return { update: (b) => h.update(b), hex: () => h.digest('hex') };
    },
  },
  {
    name: 'blake3@2 (node entry, wasm fallback)',
    make: async () => {
      const b3 = require('blake3');
      const h = b3.createHash();
      return { update: (b) => h.update(b), hex: () => h.digest('hex') };
    },
  },
  {
    name: 'node:crypto sha256 (reference)',
    make: async () => {
      const h = createHash('sha256');
      return { update: (b) => h.update(b), hex: () => h.digest('hex') };
    },
  },
];

// Known-answer check: BLAKE3 of the empty input.
const EMPTY_B3 = 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262';
const results: Record<string, number> = {};
for (const c of candidates) {
  let h;
  try {
    h = await c.make();
  } catch (err) {
    console.log(`${c.name}: unavailable (${(err as Error).message.split('\n')[0]})`);
    continue;
  }
  if (!c.name.includes('sha256')) {
    const probe = await c.make();
    if (probe.hex() !== EMPTY_B3) {
      console.log(`${c.name}: WRONG answer for empty input`);
      continue;
    }
  }
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < totalMiB; i++) h.update(chunk);
  h.hex();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  results[c.name] = totalMiB / 1024 / secs;
  console.log(`${c.name.padEnd(40)} ${(totalMiB / secs).toFixed(0).padStart(6)} MiB/s`);
}
const base = results['node:crypto sha256 (reference)'];
if (base) {
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(40)} ${(v / base).toFixed(2)}x sha256`);
}
