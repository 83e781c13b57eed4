// `bollard robots …` and `bollard groups …`: machine accounts and groups of users.
import { randomBytes } from 'node:crypto';
import { hashPassword } from '../auth/password.ts';
import { ROBOT_PREFIX } from '../auth/permissions.ts';
import { addMember, deleteGroup, insertGroup, listGroups, removeMember, type MembershipChange } from '../db/groups.ts';
import { deleteRobot, insertRobot, listRobots } from '../db/robots.ts';
import { NAME_RE, UsageError } from './access.ts';
import { withDatabase } from './database.ts';

function checkName(name: string | undefined, what: string): string {
  if (!name || !NAME_RE.test(name)) throw new UsageError(`expected a ${what} name of lower-case letters, digits, ".", "_" or "-"`);
  return name;
}

export async function runRobots(args: string[]): Promise<void> {
  const [verb, arg] = args;
  if (verb === 'list') {
    const robots = await withDatabase((pool) => listRobots(pool));
    process.stdout.write(robots.map((r) => `${ROBOT_PREFIX}${r}\n`).join(''));
    return;
  }
  const name = checkName(arg?.startsWith(ROBOT_PREFIX) ? arg.slice(ROBOT_PREFIX.length) : arg, 'robot');
  if (verb === 'add') {
    // 256 random bits: the secret is never chosen by a person, so never guessable
    const secret = randomBytes(32).toString('base64url');
    const hash = await hashPassword(secret);
    if (!(await withDatabase((pool) => insertRobot(pool, name, hash)))) throw new UsageError(`robot "${name}" already exists`);
    process.stdout.write(`added robot ${name}; its secret is shown only now:\nusername: ${ROBOT_PREFIX}${name}\nsecret: ${secret}\n`);
  } else if (verb === 'remove') {
    if (!(await withDatabase((pool) => deleteRobot(pool, name)))) throw new UsageError(`no robot "${name}"`);
    process.stdout.write(`removed robot ${name} and its grants\n`);
  } else throw new UsageError(`unknown robots command "${verb ?? ''}"`);
}

export async function runGroups(args: string[]): Promise<void> {
  const [verb, arg, user] = args;
  if (verb === 'list') {
    const groups = await withDatabase((pool) => listGroups(pool));
    process.stdout.write(groups.map((g) => `${g.name}\t${g.members.join(',')}\n`).join(''));
    return;
  }
  const group = checkName(arg, 'group');
  if (verb === 'add') {
    if (!(await withDatabase((pool) => insertGroup(pool, group)))) throw new UsageError(`group "${group}" already exists`);
    process.stdout.write(`added group ${group}\n`);
  } else if (verb === 'remove') {
    if (!(await withDatabase((pool) => deleteGroup(pool, group)))) throw new UsageError(`no group "${group}"`);
    process.stdout.write(`removed group ${group} and its grants\n`);
  } else if (verb === 'join' || verb === 'leave') {
    const member = checkName(user, 'user');
    const change = await withDatabase((pool) => (verb === 'join' ? addMember : removeMember)(pool, group, member));
    report(change, group, member, verb);
  } else throw new UsageError(`unknown groups command "${verb ?? ''}"`);
}

function report(change: MembershipChange, group: string, user: string, verb: 'join' | 'leave'): void {
  if (change === 'no-group') throw new UsageError(`no group "${group}"`);
  if (change === 'no-user') throw new UsageError(`no user "${user}"`);
  if (change === 'unchanged') throw new UsageError(verb === 'join' ? `${user} is already in ${group}` : `${user} is not in ${group}`);
  process.stdout.write(verb === 'join' ? `added ${user} to ${group}\n` : `removed ${user} from ${group}\n`);
}
