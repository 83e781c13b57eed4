// Robot accounts (migrations/0004): machine logins with a generated secret, kept hashed.
import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';

const RobotRow = z.object({ name: z.string(), secret_hash: z.string() });
export type RobotRow = z.infer<typeof RobotRow>;
const Id = z.object({ id: z.number() });

export async function findRobot(db: CommonQueryMethods, name: string): Promise<RobotRow | null> {
  return db.maybeOne(sql.type(RobotRow)`SELECT name, secret_hash FROM robots WHERE name = ${name}`);
}

export async function listRobots(db: CommonQueryMethods): Promise<readonly string[]> {
  return db.anyFirst(sql.type(z.object({ name: z.string() }))`SELECT name FROM robots ORDER BY name`);
}

export async function insertRobot(db: CommonQueryMethods, name: string, secretHash: string): Promise<boolean> {
  const id = await db.maybeOneFirst(sql.type(Id)`
    INSERT INTO robots (name, secret_hash) VALUES (${name}, ${secretHash}) ON CONFLICT (name) DO NOTHING RETURNING id`);
  return id !== null;
}

/** Removes the robot and its grants in one transaction; true when it existed. */
export async function deleteRobot(pool: DatabasePool, name: string): Promise<boolean> {
  return pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`DELETE FROM grants WHERE subject = ${`robot:${name}`}`);
    const id = await tx.maybeOneFirst(sql.type(Id)`DELETE FROM robots WHERE name = ${name} RETURNING id`);
    return id !== null;
  });
}
