// The command tree of `bollard`, parsed by commander: every command and
// subcommand has its --help, `bollard --version` prints the version, and a bare
// `bollard` prints help instead of starting anything. Each action hands its
// arguments to the command's own module, which validates them further.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { runGrants, runUsers } from './access.ts';
import { runConfigCheck } from './config.ts';
import { runGc, runScrub } from './maintenance.ts';
import { runGroups, runRobots } from './principals.ts';
import { parseImmutableArgs, parseRetentionArgs, type RetentionCommand } from './retention.ts';
import { runWebhooks } from './webhooks.ts';

export interface Runners {
  serve(): Promise<void>;
  migrate(): Promise<void>;
  retention(cmd: RetentionCommand): Promise<void>;
}

const SUBJECT = 'a user name, group:<name>, robot:<name> or robot$<name>, or "anonymous" for everyone';

export function buildProgram(run: Runners): Command {
  const program = new Command('bollard')
    .description('An OCI Distribution registry on PostgreSQL and content-addressed storage.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .option('--config <file>', 'the YAML configuration file (as BOLLARD_CONFIG); the environment overrides it')
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', '\nConfiguration comes from the --config file and the environment, which overrides it: see docs/configuration.md.')
    .hook('preAction', (cmd) => {
      const file = cmd.opts<{ config?: string }>().config;
      if (file !== undefined) process.env['BOLLARD_CONFIG'] = file;
    });

  program.command('serve').description('run the registry (default: 127.0.0.1:5000, ./data, an embedded PostgreSQL)').action(() => run.serve());
  program.command('migrate').description('apply pending database migrations and exit').action(() => run.migrate());

  const users = program.command('users').description('manage users (token auth)');
  users.command('add <name>').description('add a user; the password is read from BOLLARD_USER_PASSWORD or stdin').action((name: string) => runUsers(['add', name]));
  users.command('remove <name>').description('remove a user and its grants').action((name: string) => runUsers(['remove', name]));
  users.command('list').description('list users').action(() => runUsers(['list']));

  const robots = program.command('robots').description('manage robot accounts (token auth)');
  robots.command('add <name>').description('add a robot; prints its login (robot$<name>) and its secret, once').action((name: string) => runRobots(['add', name]));
  robots.command('remove <name>').description('remove a robot and its grants').action((name: string) => runRobots(['remove', name]));
  robots.command('list').description('list robots').action(() => runRobots(['list']));

  const groups = program.command('groups').description('manage groups of users (token auth)');
  groups.command('add <name>').description('add a group').action((name: string) => runGroups(['add', name]));
  groups.command('remove <name>').description('remove a group and its grants').action((name: string) => runGroups(['remove', name]));
  groups.command('join <group> <user>').description('add a user to a group').action((g: string, u: string) => runGroups(['join', g, u]));
  groups.command('leave <group> <user>').description('take a user out of a group').action((g: string, u: string) => runGroups(['leave', g, u]));
  groups.command('list').description('list groups and their members').action(() => runGroups(['list']));

  const grants = program.command('grants').description('manage who may pull, push and delete where (token auth)');
  grants.command('add <subject> <repository-glob> <actions>')
    .description(`let <subject> (${SUBJECT}) do <actions> (comma-separated pull,push,delete) on matching repositories; in globs * stays within a path component, ** crosses them`)
    .action((s: string, g: string, a: string) => runGrants(['add', s, g, a]));
  grants.command('remove <subject> <repository-glob>').description('remove a grant').action((s: string, g: string) => runGrants(['remove', s, g]));
  grants.command('list [subject]').description('list grants, all or of one subject').action((s?: string) => runGrants(s ? ['list', s] : ['list']));

  program.command('gc').description('collect unreferenced manifests, links and blobs once (the policy of the gc settings), then sweep expired uploads and orphaned storage')
    .option('--dry-run', 'report, change nothing').option('--json', 'print the report as JSON')
    .action((o: Flags) => runGc(flagArgs(o)));
  program.command('scrub').description('re-read every stored blob, check its BLAKE3, quarantine damaged ones (exit status 1 if any)')
    .option('--json', 'print the report as JSON')
    .action((o: Flags) => runScrub(flagArgs(o)));

  const retention = program.command('retention').description('run a retention pass now, or manage retention policies')
    .option('--dry-run', 'list what the pass would delete, delete nothing').option('--json', 'print the report as JSON')
    .action((o: Flags) => run.retention(parseRetentionArgs(flagArgs(o))));
  const policy = retention.command('policy').description('the retention policies of repository globs');
  policy.command('add <repository-glob>')
    .description("set the glob's policy (replacing it): delete the tags no rule keeps (the N most recently pushed, those whose whole name matches RE, those pushed or pulled within --unpulled-for); delete manifests left untagged for DURATION, or untagged and unpulled for --unpulled-for (durations: 3600, 90m, 24h, 7d)")
    .addOption(new Option('--keep-last <N>', 'tags to keep, newest first'))
    .addOption(new Option('--keep-regex <RE>', 'tags kept whatever their age (needs --keep-last or --unpulled-for)'))
    .addOption(new Option('--untagged-after <DURATION>', 'delete manifests untagged this long'))
    .addOption(new Option('--unpulled-for <DURATION>', 'delete tags and manifests neither pushed nor pulled this long (eviction of a pull-through cache)'))
    .action((glob: string, o: { keepLast?: string; keepRegex?: string; untaggedAfter?: string; unpulledFor?: string }) => {
      const args = ['policy', 'add', glob];
      if (o.keepLast !== undefined) args.push('--keep-last', o.keepLast);
      if (o.keepRegex !== undefined) args.push('--keep-regex', o.keepRegex);
      if (o.untaggedAfter !== undefined) args.push('--untagged-after', o.untaggedAfter);
      if (o.unpulledFor !== undefined) args.push('--unpulled-for', o.unpulledFor);
      return run.retention(parseRetentionArgs(args));
    });
  policy.command('remove <repository-glob>').description("remove the glob's policy").action((glob: string) => run.retention(parseRetentionArgs(['policy', 'remove', glob])));
  policy.command('list').description('list policies').action(() => run.retention(parseRetentionArgs(['policy', 'list'])));

  const immutable = program.command('immutable').description('tags that can be neither moved nor deleted');
  immutable.command('add <repository-glob> <tag-regex>').description('make matching tags immutable').action((g: string, r: string) => run.retention(parseImmutableArgs(['add', g, r])));
  immutable.command('remove <repository-glob> <tag-regex>').description('remove the rule').action((g: string, r: string) => run.retention(parseImmutableArgs(['remove', g, r])));
  immutable.command('list').description('list the rules').action(() => run.retention(parseImmutableArgs(['list'])));

  const webhooks = program.command('webhooks').description('send registry events to HTTP endpoints');
  webhooks.command('add <url>')
    .description('send events to <url> as JSON POSTs signed with the secret')
    .addOption(new Option('--secret <secret>', 'the signing secret, at least 8 characters (or BOLLARD_WEBHOOK_SECRET)'))
    .addOption(new Option('--repository <glob>', 'only events of matching repositories'))
    .addOption(new Option('--events <kinds>', 'only these comma-separated event kinds, e.g. manifest.push,tag.set'))
    .action((url: string, o: { secret?: string; repository?: string; events?: string }) => {
      const args = ['add', url];
      for (const [k, v] of Object.entries(o)) if (typeof v === 'string') args.push(`--${k}`, v);
      return runWebhooks(args);
    });
  webhooks.command('list').description('list endpoints with their undelivered counts').action(() => runWebhooks(['list']));
  webhooks.command('remove <id>').description('remove an endpoint and its undelivered events').action((id: string) => runWebhooks(['remove', id]));

  const config = program.command('config').description('the configuration');
  config.command('check').description('validate the configuration (the file, then the environment) and print the effective one, secrets redacted; exit status 1 on any error')
    .option('--json', 'print JSON instead of YAML')
    .action((o: Flags) => runConfigCheck(o.json === true));

  // a bare `bollard` explains itself rather than starting a server; set after the
  // subcommands, which must not inherit the tolerance of extra arguments
  program.allowExcessArguments(true).action((_opts, cmd: Command) => {
    if (cmd.args.length > 0) program.error(`unknown command '${cmd.args[0]}'`);
    program.help();
  });
  return program;
}

interface Flags {
  dryRun?: boolean;
  json?: boolean;
}

/** The flags as the command modules take them. */
function flagArgs(o: Flags): string[] {
  return [...(o.dryRun ? ['--dry-run'] : []), ...(o.json ? ['--json'] : [])];
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
