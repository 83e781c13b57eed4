import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';

const UserRow = z.object({ name: z.string(), password_hash: z.string() });
export type UserRow = z.infer<typeof UserRow>;

export async function findUser(db: CommonQueryMethods, name: string): Promise<UserRow | null> {
  return db.maybeOne(sql.type(UserRow)`SELECT name, password_hash FROM users WHERE name = ${name}`);
}

export async function listUsers(db: CommonQueryMethods): Promise<readonly string[]> {
  return db.anyFirst(sql.type(z.object({ name: z.string() }))`SELECT name FROM users ORDER BY name`);
}

/** Inserts the user unless the name is taken; true when inserted. */
export async function insertUser(db: CommonQueryMethods, name: string, passwordHash: string): Promise<boolean> {
  const id = await db.maybeOneFirst(sql.type(z.object({ id: z.number() }))`
    INSERT INTO users (name, password_hash) VALUES (${name}, ${passwordHash})
    ON CONFLICT (name) DO NOTHING RETURNING id`);
  return id !== null;
}

/** Removes the user and every grant naming it, in one transaction; true when it existed. */
export async function deleteUser(pool: DatabasePool, name: string): Promise<boolean> {
  return pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`DELETE FROM grants WHERE subject = ${`user:${name}`}`);
    const id = await tx.maybeOneFirst(sql.type(z.object({ id: z.number() }))`DELETE FROM users WHERE name = ${name} RETURNING id`);
    return id !== null;
  });
}
