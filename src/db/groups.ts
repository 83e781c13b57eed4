// Groups of users (migrations/0004): a grant to 'group:<name>' applies to every member.
import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';

const Id = z.object({ id: z.number() });

export async function insertGroup(db: CommonQueryMethods, name: string): Promise<boolean> {
  const id = await db.maybeOneFirst(sql.type(Id)`INSERT INTO groups (name) VALUES (${name}) ON CONFLICT (name) DO NOTHING RETURNING id`);
  return id !== null;
}

/** Removes the group, its memberships and its grants in one transaction; true when it existed. */
export async function deleteGroup(pool: DatabasePool, name: string): Promise<boolean> {
  return pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`DELETE FROM grants WHERE subject = ${`group:${name}`}`);
    const id = await tx.maybeOneFirst(sql.type(Id)`DELETE FROM groups WHERE name = ${name} RETURNING id`);
    return id !== null;
  });
}

const GroupRow = z.object({ name: z.string(), members: z.array(z.string()) });

export async function listGroups(db: CommonQueryMethods): Promise<ReadonlyArray<z.infer<typeof GroupRow>>> {
  return db.any(sql.type(GroupRow)`
    SELECT g.name, COALESCE(array_agg(u.name ORDER BY u.name) FILTER (WHERE u.name IS NOT NULL), '{}') AS members
    FROM groups g LEFT JOIN group_members m ON m.group_id = g.id LEFT JOIN users u ON u.id = m.user_id
    GROUP BY g.name ORDER BY g.name`);
}

export type MembershipChange = 'done' | 'no-group' | 'no-user' | 'unchanged';

export async function addMember(db: CommonQueryMethods, group: string, user: string): Promise<MembershipChange> {
  const ids = await memberIds(db, group, user);
  if (typeof ids === 'string') return ids;
  const row = await db.maybeOneFirst(sql.type(z.object({ group_id: z.number() }))`
    INSERT INTO group_members (group_id, user_id) VALUES (${ids.group}, ${ids.user}) ON CONFLICT DO NOTHING RETURNING group_id`);
  return row === null ? 'unchanged' : 'done';
}

export async function removeMember(db: CommonQueryMethods, group: string, user: string): Promise<MembershipChange> {
  const ids = await memberIds(db, group, user);
  if (typeof ids === 'string') return ids;
  const row = await db.maybeOneFirst(sql.type(z.object({ group_id: z.number() }))`
    DELETE FROM group_members WHERE group_id = ${ids.group} AND user_id = ${ids.user} RETURNING group_id`);
  return row === null ? 'unchanged' : 'done';
}

async function memberIds(db: CommonQueryMethods, group: string, user: string): Promise<{ group: number; user: number } | 'no-group' | 'no-user'> {
  const g = await db.maybeOneFirst(sql.type(Id)`SELECT id FROM groups WHERE name = ${group}`);
  if (g === null) return 'no-group';
  const u = await db.maybeOneFirst(sql.type(Id)`SELECT id FROM users WHERE name = ${user}`);
  if (u === null) return 'no-user';
  return { group: g, user: u };
}
