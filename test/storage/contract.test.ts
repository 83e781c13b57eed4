// The BlobStore contract: one suite, run against every driver. After each test
// the store must be empty again: tests delete what they commit, and anything
// else left (staged segments, open multipart uploads, stray files) fails the test.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { decode, encode } from 'cbor-x';
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { blake3Hex } from '../../src/digest/blake3.ts';
import { blobKey, StorageError, type BlobKey, type BlobStore, type UploadState } from '../../src/storage/blob-store.ts';
import { ownChunks } from '../../src/storage/owned-chunks.ts';
import { fsStore, s3Store, s3StoreWith, type StoreUnderTest } from '../support/stores.ts';

const MiB = 1024 * 1024;
const s3 = inject('s3');

const drivers: Array<{ name: string; make: () => Promise<StoreUnderTest> | StoreUnderTest; s3: boolean }> = [
  { name: 'fs', make: () => fsStore(), s3: false },
  // the page-cache path, used where the filesystem refuses O_DIRECT or BOLLARD_FS_DIRECT_IO=off
  { name: 'fs (buffered)', make: () => fsStore({ directIo: false }), s3: false },
  { name: 's3', make: () => s3Store('contract'), s3: true },
  // small parts and copies, so every multipart path runs on test-sized blobs
  { name: 's3 (part copies)', make: () => s3StoreWith('contract-parts', { copy: { copyObjectMax: 0, copyPartSize: 5 * MiB, concurrency: 4 } }), s3: true },
];

describe.each(drivers)('BlobStore contract: $name', ({ make, s3: needsS3 }) => {
  const skip = needsS3 && !s3;
  let sut: StoreUnderTest;
  let store: BlobStore;
  const committed = new Set<BlobKey>();

  beforeAll(async () => {
    if (skip) return;
    sut = await make();
    store = sut.store;
  });
  afterEach(async () => {
    if (skip) return;
    for (const key of committed) await store.delete(key);
    committed.clear();
    expect(await sut.contents(), 'objects left behind by the test').toEqual([]);
  });
  afterAll(async () => {
    if (!skip) await sut.destroy();
  });

  const t = skip ? test.skip : test;

  /** Stages `chunks` in one session (state round-tripped through CBOR, as the registry stores it) and commits it. */
  async function put(chunks: Buffer[]): Promise<BlobKey> {
    let state = await store.startUpload(crypto.randomUUID());
    for (const c of chunks) state = saved(await store.appendUpload(state, Readable.from([c])));
    const key = keyOf(Buffer.concat(chunks));
    await store.completeUpload(state, key);
    committed.add(key);
    return key;
  }

  t('a missing object: stat is null, read is not_found, delete is fine', async () => {
    const key = keyOf(Buffer.from('never stored'));
    expect(await store.stat(key)).toBeNull();
    await expect(store.read(key)).rejects.toMatchObject({ kind: 'not_found' });
    await store.delete(key);
  });

  t('a blob in one append reads back whole and by range', async () => {
    const data = randomBytes(300_000);
    const key = await put([data]);
    expect(await store.stat(key)).toEqual({ size: data.length });
    expectBytes(await readAll(await store.read(key)), data);
    for (const [start, end] of [[0, 0], [0, 99], [1000, 250_000], [299_999, 299_999]] as const) {
      expectBytes(await readAll(await store.read(key, { start, end })), data.subarray(start, end + 1));
    }
  });

  t('the empty blob', async () => {
    const key = await put([]);
    expect(await store.stat(key)).toEqual({ size: 0 });
    expect((await readAll(await store.read(key))).length).toBe(0);
  });

  t('many small appends and a few large ones, read back while staged and after commit', async () => {
    const chunks = [1, 10, 4096, 70_000, 6 * MiB, 3, 5 * MiB - 1, 2, 11 * MiB + 7, 100].map((n) => randomBytes(n));
    const data = Buffer.concat(chunks);
    let state = await store.startUpload(crypto.randomUUID());
    let offset = 0;
    for (const c of chunks) {
      state = saved(await store.appendUpload(state, Readable.from(split(c, 64 * 1024))));
      offset += c.length;
      expect(state.size).toBe(offset);
      expectBytes(await readAll(await store.readUpload(state, { start: 0, end: offset - 1 })), data.subarray(0, offset));
    }
    const mid = { start: 5, end: 12 * MiB };
    expectBytes(await readAll(await store.readUpload(state, mid)), data.subarray(mid.start, mid.end + 1));
    const key = keyOf(data);
    await store.completeUpload(state, key);
    committed.add(key);
    expect(await store.stat(key)).toEqual({ size: data.length });
    expect(keyOf(await readAll(await store.read(key)))).toBe(key);
  });

  t('an empty append changes nothing', async () => {
    let state = await store.startUpload(crypto.randomUUID());
    state = saved(await store.appendUpload(state, Readable.from([Buffer.from('abc')])));
    const same = saved(await store.appendUpload(state, Readable.from([])));
    expect(same.size).toBe(3);
    expectBytes(await readAll(await store.readUpload(same, { start: 0, end: 2 })), Buffer.from('abc'));
    await store.abortUpload(same);
  });

  t('completing onto an existing object keeps it and drops the staging', async () => {
    const data = randomBytes(50_000);
    const key = await put([data]);
    await put([data.subarray(0, 20_000), data.subarray(20_000)]);
    expectBytes(await readAll(await store.read(key)), data);
  });

  t('an aborted session leaves nothing', async () => {
    let state = await store.startUpload(crypto.randomUUID());
    state = saved(await store.appendUpload(state, Readable.from([randomBytes(7 * MiB)])));
    state = saved(await store.appendUpload(state, Readable.from([randomBytes(1000)])));
    await store.abortUpload(state);
    await store.abortUpload(state);
  });

  t('a body that fails midway leaves the committed state usable', async () => {
    let state = await store.startUpload(crypto.randomUUID());
    const first = randomBytes(1000);
    state = saved(await store.appendUpload(state, Readable.from([first])));
    await expect(store.appendUpload(state, failingBody(12 * MiB))).rejects.toBeInstanceOf(Error);
    const rest = randomBytes(2000);
    state = saved(await store.appendUpload(state, Readable.from([rest])));
    expectBytes(await readAll(await store.readUpload(state, { start: 0, end: 2999 })), Buffer.concat([first, rest]));
    await store.abortUpload(state);
  });

  t("a request body's chunks are freed once stored, never a chunk sharing its memory, nor the chunks of a body not marked", async () => {
    const whole = [...Array.from({ length: 6 }, () => randomBytes(64 * 1024)), randomBytes(6 * MiB)];
    const slice = randomBytes(3000).subarray(1000, 2000); // shares its ArrayBuffer
    const expected = Buffer.concat([...whole, slice]);
    let state = await store.startUpload(crypto.randomUUID());
    state = saved(await store.appendUpload(state, ownChunks(Readable.from([...whole, slice]))));
    expect(whole.map((c) => c.length)).toEqual(whole.map(() => 0));
    expect(slice.length).toBe(1000);
    const unmarked = [randomBytes(64 * 1024), randomBytes(70_000)];
    const copies = unmarked.map((c) => Buffer.from(c));
    state = saved(await store.appendUpload(state, Readable.from(unmarked)));
    expect(unmarked).toEqual(copies);
    const data = Buffer.concat([expected, ...copies]);
    expectBytes(await readAll(await store.readUpload(state, { start: 0, end: data.length - 1 })), data);
    await store.abortUpload(state);
  });

  t('followUpload, where the driver has it, reads what is final of a staging as it grows; null once it is gone', async () => {
    if (!store.followUpload) return; // S3: staged parts are not readable while written
    const data = randomBytes(3 * 4096 + 100);
    const id = crypto.randomUUID();
    let state = await store.startUpload(id);
    expect((await readAll((await store.followUpload(id, { start: 0, end: data.length - 1 }))!)).length).toBe(0);
    // an end on a block boundary may be a direct write's padding: that block waits
    state = await store.appendUpload(state, Readable.from([data.subarray(0, 2 * 4096)]));
    expectBytes(await readAll((await store.followUpload(id, { start: 0, end: data.length - 1 }))!), data.subarray(0, 4096));
    state = await store.appendUpload(state, Readable.from([data.subarray(2 * 4096)]));
    expectBytes(await readAll((await store.followUpload(id, { start: 100, end: data.length - 1 }))!), data.subarray(100));
    const key = keyOf(data);
    await store.completeUpload(state, key);
    committed.add(key);
    expect(await store.followUpload(id, { start: 0, end: 10 })).toBeNull();
  });

  t('list yields every committed object with its size', async () => {
    const blobs = [randomBytes(10), randomBytes(2000), randomBytes(3)];
    const keys = [];
    for (const b of blobs) keys.push(await put([b]));
    const listed = new Map<string, number>();
    for await (const o of store.list()) listed.set(o.key, o.size);
    expect(listed).toEqual(new Map(keys.map((k, i) => [k, blobs[i]?.length])));
  });

  t('staged uploads are listed by id and an abort by id alone removes them (what the sweep does)', async () => {
    const a = await store.startUpload(crypto.randomUUID());
    await store.appendUpload(a, Readable.from([randomBytes(6 * MiB)]));
    const b = await store.startUpload(crypto.randomUUID());
    await store.appendUpload(b, Readable.from([randomBytes(10)]));
    const key = await put([randomBytes(10)]); // committed objects are not uploads
    const listed = [];
    for await (const u of store.list('uploads')) listed.push(u.key);
    expect(listed.sort()).toEqual([a.uploadId, b.uploadId].sort());
    for (const id of listed) await store.abortUpload({ uploadId: id, size: 0 });
    for await (const u of store.list('uploads')) expect.fail(`upload ${u.key} left`);
    expect(await store.stat(key)).not.toBeNull();
  });

  t('quarantine moves a damaged object aside: no longer an object, kept for inspection', async () => {
    const data = randomBytes(3000);
    const key = await put([data]);
    await store.quarantine(key);
    committed.delete(key);
    expect(await store.stat(key)).toBeNull();
    for await (const o of store.list()) expect(o.key).not.toBe(key);
    const aside = (await sut.contents()).filter((p) => p.startsWith(`quarantine/${key}.`));
    expect(aside).toHaveLength(1);
    await store.quarantine(key); // gone already: nothing to do
    await sut.remove(aside[0] as string);
  });

  t('delete removes an object', async () => {
    const key = await put([randomBytes(100)]);
    await store.delete(key);
    committed.delete(key);
    expect(await store.stat(key)).toBeNull();
    await expect(store.read(key)).rejects.toBeInstanceOf(StorageError);
  });
});

/** What the registry does with driver state between requests: CBOR in a database row. */
function saved(state: UploadState): UploadState {
  return decode(Buffer.from(encode(state))) as UploadState;
}

/** Byte equality without vitest's element-by-element diff, which is very slow on megabytes. */
function expectBytes(actual: Buffer, expected: Buffer): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.equals(expected), 'bytes differ').toBe(true);
}

function keyOf(data: Buffer): BlobKey {
  return blobKey(blake3Hex(data));
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function split(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

/** A body that yields `bytes` and then fails, like a client that disconnects mid-upload. */
function failingBody(bytes: number): Readable {
  return Readable.from(
    (async function* () {
      for (let sent = 0; sent < bytes; sent += MiB) yield randomBytes(MiB);
      throw new Error('client went away');
    })(),
  );
}
