// `bollard retention …` and `bollard immutable …`. Arguments are parsed and
// validated before any database is opened; execution returns the text to print.
import type { DatabasePool } from 'slonik';
import { addImmutableRule, listImmutableRules, listPolicies, removeImmutableRule, removePolicy, upsertPolicy } from '../db/retention.ts';
import { checkGlob, checkTagRegex, RuleError } from '../registry/retention/rules.ts';
import type { RetentionPolicy } from '../shared/policies.ts';
import { runRetention } from '../registry/retention/run.ts';
import type { RetentionItem } from '../registry/retention/plan.ts';
import { UsageError } from './access.ts';

export type RetentionCommand =
  | { verb: 'run'; dryRun: boolean; json: boolean }
  | { verb: 'policy-add'; policy: Omit<RetentionPolicy, 'id'> }
  | { verb: 'policy-remove'; glob: string }
  | { verb: 'policy-list' }
  | { verb: 'immutable-add' | 'immutable-remove'; glob: string; pattern: string }
  | { verb: 'immutable-list' };

const DURATION_UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 };

export function parseDuration(text: string): number {
  const m = /^(\d{1,9})([smhd]?)$/.exec(text);
  if (!m) throw new UsageError(`invalid duration "${text}": expected seconds, or a number with s, m, h or d`);
  return Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
}

function validated<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RuleError) throw new UsageError(err.message);
    throw err;
  }
}

export function parseRetentionArgs(args: readonly string[]): RetentionCommand {
  if (args[0] === 'policy') return parsePolicyArgs(args.slice(1));
  const flags = new Set(args);
  for (const f of flags) if (f !== '--dry-run' && f !== '--json') throw new UsageError(`unknown argument "${f}"`);
  return { verb: 'run', dryRun: flags.has('--dry-run'), json: flags.has('--json') };
}

function parsePolicyArgs(args: readonly string[]): RetentionCommand {
  const [verb, glob, ...rest] = args;
  if (verb === 'list') return { verb: 'policy-list' };
  if (verb !== 'add' && verb !== 'remove') throw new UsageError(`unknown retention policy command "${verb ?? ''}"`);
  if (!glob) throw new UsageError('expected <repository-glob>');
  validated(() => checkGlob(glob));
  if (verb === 'remove') return { verb: 'policy-remove', glob };
  const policy: Omit<RetentionPolicy, 'id'> = { repositoryGlob: glob, keepLast: null, keepRegex: null, untaggedDelaySeconds: null, unpulledDelaySeconds: null };
  for (let i = 0; i < rest.length; i += 2) {
    const [flag, value] = [rest[i], rest[i + 1]];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    if (flag === '--keep-last') {
      if (!/^\d{1,6}$/.test(value)) throw new UsageError(`invalid --keep-last "${value}": expected a whole number`);
      policy.keepLast = Number(value);
    } else if (flag === '--keep-regex') policy.keepRegex = validated(() => checkTagRegex(value));
    else if (flag === '--untagged-after') policy.untaggedDelaySeconds = parseDuration(value);
    else if (flag === '--unpulled-for') policy.unpulledDelaySeconds = parseDuration(value);
    else throw new UsageError(`unknown option "${flag}"`);
  }
  if (policy.keepRegex !== null && policy.keepLast === null && policy.unpulledDelaySeconds === null) {
    throw new UsageError('--keep-regex exempts tags from --keep-last and --unpulled-for; give one of them too (--keep-last 0 keeps only matching tags)');
  }
  if (policy.keepLast === null && policy.untaggedDelaySeconds === null && policy.unpulledDelaySeconds === null) {
    throw new UsageError('a policy needs --keep-last, --untagged-after or --unpulled-for');
  }
  return { verb: 'policy-add', policy };
}

export function parseImmutableArgs(args: readonly string[]): RetentionCommand {
  const [verb, glob, pattern, extra] = args;
  if (verb === 'list') return { verb: 'immutable-list' };
  if (verb !== 'add' && verb !== 'remove') throw new UsageError(`unknown immutable command "${verb ?? ''}"`);
  if (!glob || !pattern || extra !== undefined) throw new UsageError('expected <repository-glob> <tag-regex>');
  validated(() => checkGlob(glob));
  validated(() => checkTagRegex(pattern));
  return { verb: verb === 'add' ? 'immutable-add' : 'immutable-remove', glob, pattern };
}

export async function executeRetention(cmd: RetentionCommand, pool: DatabasePool): Promise<string> {
  switch (cmd.verb) {
    case 'run': {
      const report = await runRetention(pool, { dryRun: cmd.dryRun });
      if (report === null) throw new UsageError('another process is running a retention pass; try again later');
      return cmd.json ? `${JSON.stringify(report)}\n` : formatItems(report.items, cmd.dryRun);
    }
    case 'policy-add':
      await upsertPolicy(pool, cmd.policy);
      return `set the retention policy of ${cmd.policy.repositoryGlob}\n`;
    case 'policy-remove':
      if (!(await removePolicy(pool, cmd.glob))) throw new UsageError(`no retention policy for ${cmd.glob}`);
      return `removed the retention policy of ${cmd.glob}\n`;
    case 'policy-list':
      return (await listPolicies(pool)).map(formatPolicy).join('');
    case 'immutable-add':
      if (!(await addImmutableRule(pool, cmd.glob, cmd.pattern))) return `tags /${cmd.pattern}/ of ${cmd.glob} were already immutable\n`;
      return `tags /${cmd.pattern}/ of ${cmd.glob} are now immutable\n`;
    case 'immutable-remove':
      if (!(await removeImmutableRule(pool, cmd.glob, cmd.pattern))) throw new UsageError(`no immutable rule ${cmd.glob} /${cmd.pattern}/`);
      return `removed the immutable rule ${cmd.glob} /${cmd.pattern}/\n`;
    case 'immutable-list':
      return (await listImmutableRules(pool)).map((r) => `${r.repositoryGlob}\t${r.tagPattern}\n`).join('');
  }
}

function formatPolicy(p: RetentionPolicy): string {
  const parts = [
    p.keepLast === null ? null : `keep-last=${p.keepLast}`,
    p.keepRegex === null ? null : `keep-regex=${p.keepRegex}`,
    p.untaggedDelaySeconds === null ? null : `untagged-after=${p.untaggedDelaySeconds}s`,
    p.unpulledDelaySeconds === null ? null : `unpulled-for=${p.unpulledDelaySeconds}s`,
  ];
  return `${p.repositoryGlob}\t${parts.filter((x) => x !== null).join(' ')}\n`;
}

/** One line per item: repository, `tag <name>` or `manifest`, digest, reason; then a summary. */
function formatItems(items: readonly RetentionItem[], dryRun: boolean): string {
  const lines = items.map((i) => `${i.repository}\t${i.kind === 'tag' ? `tag ${i.tag}` : 'manifest'}\t${i.digest}\t${i.reason}\n`);
  const tags = items.filter((i) => i.kind === 'tag').length;
  const summary = `${dryRun ? 'would delete' : 'deleted'} ${tags} tag(s) and ${items.length - tags} manifest(s)\n`;
  return lines.join('') + summary;
}
