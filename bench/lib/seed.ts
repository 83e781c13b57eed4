// Seeding many tags for the tag-listing workload. Going through the API would
// take minutes per registry here; the page latency is what is measured, so the
// tags are written the way each registry stores them.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';

export const tagName = (i: number) => `t${String(i).padStart(6, '0')}`;

/** Bollard: tag rows pointing at the repository's manifest, refcount raised to match. */
export async function seedBollardTags(databaseUrl: string, repo: string, manifest: Buffer, count: number): Promise<void> {
  const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    const inserted = await client.query(
      `INSERT INTO tags (repository_id, name, manifest_id)
       SELECT r.id, 't' || lpad(g::text, 6, '0'), m.id
       FROM repositories r JOIN manifests m ON m.repository_id = r.id AND m.digest = $2, generate_series(0, $3 - 1) g
       WHERE r.name = $1
       ON CONFLICT DO NOTHING`,
      [repo, digest, count],
    );
    await client.query(
      `UPDATE manifests m SET refcount = refcount + $3 FROM repositories r WHERE r.id = m.repository_id AND r.name = $1 AND m.digest = $2`,
      [repo, digest, inserted.rowCount ?? 0],
    );
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
}

/** distribution: one `current/link` and one `index/sha256/<hex>/link` file per tag, as it writes them. */
export async function seedDistributionTags(dataDir: string, repo: string, manifest: Buffer, count: number): Promise<void> {
  const hex = createHash('sha256').update(manifest).digest('hex');
  const tagsDir = join(dataDir, 'data', 'docker', 'registry', 'v2', 'repositories', repo, '_manifests', 'tags');
  for (let i = 0; i < count; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - i) }, async (_, k) => {
        const dir = join(tagsDir, tagName(i + k));
        await mkdir(join(dir, 'current'), { recursive: true });
        await mkdir(join(dir, 'index', 'sha256', hex), { recursive: true });
        await writeFile(join(dir, 'current', 'link'), `sha256:${hex}`);
        await writeFile(join(dir, 'index', 'sha256', hex, 'link'), `sha256:${hex}`);
      }),
    );
  }
}
