// `bollard users …` and `bollard grants …`: the operator's view of access control.
import { createInterface } from 'node:readline/promises';
import { isValidGlob } from '../shared/glob.ts';
import { hashPassword } from '../auth/password.ts';
import { ACTIONS } from '../auth/scope.ts';
import { addGrant, listGrants, removeGrant } from '../db/grants.ts';
import { deleteUser, insertUser, listUsers } from '../db/users.ts';
import { withDatabase } from './database.ts';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** The form of user, group and robot names (migrations 0002 and 0004 check it too). */
export const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const USER_RE = NAME_RE;

export async function runUsers(args: string[]): Promise<void> {
  const [verb, name] = args;
  if (verb === 'list') {
    const users = await withDatabase((pool) => listUsers(pool));
    process.stdout.write(users.map((u) => `${u}\n`).join(''));
    return;
  }
  if (!name || !USER_RE.test(name)) throw new UsageError('expected a user name of lower-case letters, digits, ".", "_" or "-"');
  if (verb === 'add') {
    const password = await readPassword();
    if (password.length < 8) throw new UsageError('the password needs at least 8 characters');
    const hash = await hashPassword(password);
    if (!(await withDatabase((pool) => insertUser(pool, name, hash)))) throw new UsageError(`user "${name}" already exists`);
    process.stdout.write(`added user ${name}\n`);
  } else if (verb === 'remove') {
    if (!(await withDatabase((pool) => deleteUser(pool, name)))) throw new UsageError(`no user "${name}"`);
    process.stdout.write(`removed user ${name} and its grants\n`);
  } else throw new UsageError(`unknown users command "${verb ?? ''}"`);
}

export async function runGrants(args: string[]): Promise<void> {
  const [verb, who, glob, actionList] = args;
  if (verb === 'list') {
    const rows = await withDatabase((pool) => listGrants(pool, who ? subjectOf(who) : null));
    process.stdout.write(rows.map((r) => `${r.subject}\t${r.repository_glob}\t${ACTIONS.filter((a) => r.actions.includes(a)).join(',')}\n`).join(''));
    return;
  }
  if (!who || !glob) throw new UsageError('expected <subject> <repository-glob>');
  const subject = subjectOf(who);
  if (!isValidGlob(glob)) throw new UsageError(`invalid repository glob "${glob}"`);
  if (verb === 'add') {
    const actions = (actionList ?? '').split(',').filter((a) => a !== '');
    if (actions.length === 0 || !actions.every((a) => (ACTIONS as readonly string[]).includes(a))) {
      throw new UsageError('expected actions among pull,push,delete');
    }
    await withDatabase((pool) => addGrant(pool, subject, glob, actions));
    process.stdout.write(`granted ${actions.join(',')} on ${glob} to ${subject}\n`);
  } else if (verb === 'remove') {
    if (!(await withDatabase((pool) => removeGrant(pool, subject, glob)))) throw new UsageError(`no grant of ${subject} on ${glob}`);
    process.stdout.write(`removed the grant of ${subject} on ${glob}\n`);
  } else throw new UsageError(`unknown grants command "${verb ?? ''}"`);
}

/** A grant subject as typed: "alice", "user:alice", "group:devs", "robot:ci", "robot$ci" or "anonymous". */
function subjectOf(who: string): string {
  if (who === 'anonymous') return 'anonymous';
  const m = /^(?:(user|group|robot):|(robot)\$)?(.*)$/.exec(who) as RegExpExecArray;
  const kind = m[1] ?? m[2] ?? 'user';
  if (!USER_RE.test(m[3] as string)) throw new UsageError(`invalid subject "${who}"`);
  return `${kind}:${m[3]}`;
}

async function readPassword(): Promise<string> {
  const fromEnv = process.env['BOLLARD_USER_PASSWORD'];
  if (fromEnv) return fromEnv;
  if (process.stdin.isTTY) process.stderr.write('password: ');
  const rl = createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of rl) return line;
    return '';
  } finally {
    rl.close();
  }
}
