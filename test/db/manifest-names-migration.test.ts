// migrations/0008_manifest_names.sql on data written under the old model, where the same
// bytes pushed as sha256:… and sha512:… were two manifest rows of one repository.
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, expect, test } from 'vitest';
import { z } from 'zod';
import { migrate } from '../../src/db/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { refcountDrift } from '../support/rows.ts';

const MIGRATIONS = fileURLToPath(new URL('../../migrations/', import.meta.url));
let db: TestDatabase;
let pool: DatabasePool;
let dir: string;
afterAll(async () => {
  await pool?.end();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const hex = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');
const Id = z.object({ id: z.number() });

test('twins merge into the sha256 row: tags keep their algorithm, index edges and refcounts follow', async () => {
  db = await createTestDatabase();
  pool = await createPool(db.url);
  dir = await mkdtemp(join(tmpdir(), 'bollard-migrations-'));
  for (const f of (await readdir(MIGRATIONS)).filter((f) => f < '0008')) await cp(join(MIGRATIONS, f), join(dir, f));
  await migrate(pool, dir);

  const repo = await pool.oneFirst(sql.type(Id)`INSERT INTO repositories (name) VALUES ('old/img') RETURNING id`);
  const blobId = await pool.oneFirst(sql.type(Id)`
    INSERT INTO blobs (blake3, size, sha256, refcount) VALUES (${sql.binary(Buffer.alloc(32, 1))}, 10, ${sql.binary(Buffer.alloc(32, 2))}, 1) RETURNING id`);
  const child = Buffer.from('{"schemaVersion":2,"child":true}');
  const lone = Buffer.from('{"schemaVersion":2,"lone":true}');
  const insert = (digest: string, content: Buffer, refcount: number) => pool.oneFirst(sql.type(Id)`
    INSERT INTO manifests (repository_id, digest, media_type, content, refcount)
    VALUES (${repo}, ${digest}, 'application/vnd.oci.image.manifest.v1+json', ${sql.binary(content)}, ${refcount}) RETURNING id`);
  const keep = await insert(`sha256:${hex('sha256', child)}`, child, 2); // tag a + index edge
  const dup = await insert(`sha512:${hex('sha512', child)}`, child, 2); // tag b + the same index's edge
  const loneId = await insert(`sha512:${hex('sha512', lone)}`, lone, 1); // tag c
  const index = await insert('sha256:' + 'f'.repeat(64), Buffer.from('{"index":1}'), 0);
  await pool.query(sql.unsafe`INSERT INTO repository_blobs (repository_id, blob_id, refcount) VALUES (${repo}, ${blobId}, 2)`);
  await pool.query(sql.unsafe`INSERT INTO manifest_blobs (manifest_id, blob_id) VALUES (${keep}, ${blobId}), (${dup}, ${blobId})`);
  await pool.query(sql.unsafe`INSERT INTO manifest_children (parent_id, child_id) VALUES (${index}, ${keep}), (${index}, ${dup})`);
  await pool.query(sql.unsafe`INSERT INTO tags (repository_id, name, manifest_id) VALUES (${repo}, 'a', ${keep}), (${repo}, 'b', ${dup}), (${repo}, 'c', ${loneId})`);

  expect(await migrate(pool, MIGRATIONS)).toContain('0008_manifest_names.sql');

  const rows = await pool.any(sql.type(z.object({ id: z.number(), digest: z.string(), digest_sha512: z.string() }))`
    SELECT id, digest, digest_sha512 FROM manifests WHERE repository_id = ${repo} AND id <> ${index} ORDER BY id`);
  expect(rows).toEqual([
    { id: keep, digest: `sha256:${hex('sha256', child)}`, digest_sha512: `sha512:${hex('sha512', child)}` },
    { id: loneId, digest: `sha256:${hex('sha256', lone)}`, digest_sha512: `sha512:${hex('sha512', lone)}` },
  ]);
  const tags = await pool.any(sql.type(z.object({ name: z.string(), manifest_id: z.number(), algorithm: z.string() }))`
    SELECT name, manifest_id, algorithm FROM tags ORDER BY name`);
  expect(tags).toEqual([
    { name: 'a', manifest_id: keep, algorithm: 'sha256' },
    { name: 'b', manifest_id: keep, algorithm: 'sha512' },
    { name: 'c', manifest_id: loneId, algorithm: 'sha512' },
  ]);
  expect(await refcountDrift(pool)).toEqual([]);
});
