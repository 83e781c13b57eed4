// The filesystem driver's direct-write path (src/storage/direct-io.ts): appends at
// any offset and of any length, more uploads at once than it has buffers, and the
// staged file always exactly as long as what was appended. The contract suite runs
// the same driver through the generic BlobStore checks.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { blake3Hex } from '../../src/digest/blake3.ts';
import { blobKey, type UploadState } from '../../src/storage/blob-store.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { fsStore, type StoreUnderTest } from '../support/stores.ts';

const MiB = 1024 * 1024;
const TMPFS_MAGIC = 0x01021994;
/** statfs magic numbers of ext4, xfs and btrfs. */
const LOCAL_FS = [0xef53, 0x58465342, 0x9123683e];

describe('fs driver, direct writes', () => {
  let sut: StoreUnderTest & { root: string; store: FsBlobStore };

  beforeAll(async () => {
    sut = await fsStore();
  });
  afterAll(async () => {
    await sut.destroy();
  });

  test('are used on the usual local filesystems, and not when turned off', async () => {
    // ext4, xfs and btrfs take O_DIRECT; where the test data lives elsewhere, only the switch is checked
    if (LOCAL_FS.includes((await statfs(tmpdir())).type)) expect(sut.store.directIo).toBe(true);
    const off = await fsStore({ directIo: false });
    try {
      expect(off.store.directIo).toBe(false);
    } finally {
      await off.destroy();
    }
  });

  test('uploads work on tmpfs, which takes O_DIRECT only since Linux 6.6, whichever path the probe picks', async () => {
    expect((await statfs('/dev/shm')).type, '/dev/shm is expected to be a tmpfs on Linux').toBe(TMPFS_MAGIC);
    const root = await mkdtemp('/dev/shm/bollard-test-store-');
    try {
      const store = new FsBlobStore(root);
      await store.init();
      const data = randomBytes(3 * MiB + 5);
      let state = await store.startUpload(crypto.randomUUID());
      state = await store.appendUpload(state, Readable.from(pieces(data, 65_536)));
      state = await store.appendUpload(state, Readable.from([randomBytes(0)]));
      const key = blobKey(blake3Hex(data));
      await store.completeUpload(state, key);
      expect(sha(await readAll(await store.read(key)))).toBe(sha(data));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test('appends of every awkward size and offset read back exactly, the staged file never longer than the state', async () => {
    // sizes around the 4 KiB block and the 4 MiB buffer, each append starting where the last one ended
    const sizes = [1, 4095, 1, 4096, 4097, 3, 4 * MiB - 4103, 4 * MiB, 1, 4 * MiB + 1, 8 * MiB - 1, 0, 12_345, 2, 9 * MiB + 513];
    const parts = sizes.map((n) => randomBytes(n));
    let state: UploadState = await sut.store.startUpload(crypto.randomUUID());
    const staged = join(sut.root, 'uploads', state.uploadId);
    let offset = 0;
    for (const [i, part] of parts.entries()) {
      // network-like pieces of uneven length
      state = await sut.store.appendUpload(state, Readable.from(pieces(part, 1000 + i * 7919)));
      offset += part.length;
      expect(state.size).toBe(offset);
      expect((await stat(staged)).size).toBe(offset);
    }
    const data = Buffer.concat(parts);
    expect(sha(await readAll(await sut.store.readUpload(state, { start: 0, end: offset - 1 })))).toBe(sha(data));
    const key = blobKey(blake3Hex(data));
    await sut.store.completeUpload(state, key);
    expect(await sut.store.stat(key)).toEqual({ size: data.length });
    expect(sha(await readAll(await sut.store.read(key)))).toBe(sha(data));
    await sut.store.delete(key);
  });

  test('more uploads at once than there are buffers all finish, each with its own bytes', async () => {
    // 12 uploads share 5 buffers; each body trickles in, so they overlap and some wait for a buffer
    const few = await fsStore({ directBuffers: 5 });
    try {
      expect(few.store.directIo).toBe(sut.store.directIo);
      const blobs = Array.from({ length: 12 }, (_, i) => randomBytes(5 * MiB + i * 4099));
      const keys = await Promise.all(
        blobs.map(async (data) => {
          let state = await few.store.startUpload(crypto.randomUUID());
          state = await few.store.appendUpload(state, Readable.from(trickle(data, 256 * 1024)));
          const key = blobKey(blake3Hex(data));
          await few.store.completeUpload(state, key);
          return key;
        }),
      );
      for (const [i, key] of keys.entries()) expect(sha(await readAll(await few.store.read(key)))).toBe(sha(blobs[i] as Buffer));
    } finally {
      await few.destroy();
    }
  });

  test('an append that fails midway leaves bytes past the state that the next append overwrites', async () => {
    const first = randomBytes(5000);
    let state = await sut.store.startUpload(crypto.randomUUID());
    state = await sut.store.appendUpload(state, Readable.from([first]));
    const failing = Readable.from(
      (async function* () {
        yield randomBytes(6 * MiB + 17);
        throw new Error('client went away');
      })(),
    );
    await expect(sut.store.appendUpload(state, failing)).rejects.toBeInstanceOf(Error);
    const rest = randomBytes(3 * MiB + 5);
    state = await sut.store.appendUpload(state, Readable.from([rest]));
    const data = Buffer.concat([first, rest]);
    expect(state.size).toBe(data.length);
    expect(sha(await readAll(await sut.store.readUpload(state, { start: 0, end: data.length - 1 })))).toBe(sha(data));
    const key = blobKey(blake3Hex(data));
    await sut.store.completeUpload(state, key);
    expect(sha(await readAll(await sut.store.read(key)))).toBe(sha(data));
    await sut.store.delete(key);
  });
});

function pieces(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

async function* trickle(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) {
    await new Promise((r) => setImmediate(r));
    yield data.subarray(i, i + size);
  }
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
