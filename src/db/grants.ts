import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

const Action = z.enum(['pull', 'push', 'delete']);
const GrantRow = z.object({ subject: z.string(), repository_glob: z.string(), actions: z.array(Action) });
export type GrantRow = z.infer<typeof GrantRow>;

/**
 * The grants of the given subjects (e.g. a user's and the anonymous ones), and
 * those of the groups the user `member` belongs to (one round trip).
 */
export async function grantsOf(db: CommonQueryMethods, subjects: readonly string[], member: string | null = null): Promise<readonly GrantRow[]> {
  return db.any(sql.type(GrantRow)`
    SELECT subject, repository_glob, actions FROM grants
    WHERE subject = ANY(${sql.array(subjects, 'text')})
       OR subject IN (SELECT 'group:' || g.name FROM users u
                      JOIN group_members m ON m.user_id = u.id JOIN groups g ON g.id = m.group_id
                      WHERE u.name = ${member})`);
}

export async function listGrants(db: CommonQueryMethods, subject: string | null): Promise<readonly GrantRow[]> {
  return db.any(sql.type(GrantRow)`
    SELECT subject, repository_glob, actions FROM grants
    WHERE (${subject}::text IS NULL OR subject = ${subject})
    ORDER BY subject, repository_glob`);
}

/** Adds the actions to the subject's grant on the glob (creating it). */
export async function addGrant(db: CommonQueryMethods, subject: string, glob: string, actions: readonly string[]): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO grants (subject, repository_glob, actions) VALUES (${subject}, ${glob}, ${sql.array(actions, 'text')})
    ON CONFLICT (subject, repository_glob) DO UPDATE
      SET actions = ARRAY(SELECT DISTINCT unnest(grants.actions || EXCLUDED.actions) ORDER BY 1)`);
}

/** Removes the subject's grant on the glob; true when there was one. */
export async function removeGrant(db: CommonQueryMethods, subject: string, glob: string): Promise<boolean> {
  const id = await db.maybeOneFirst(sql.type(z.object({ id: z.number() }))`
    DELETE FROM grants WHERE subject = ${subject} AND repository_glob = ${glob} RETURNING id`);
  return id !== null;
}
