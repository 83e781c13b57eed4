// The operator commands: argument validation (before any database is opened),
// execution against a real database, and `bollard serve`'s background pass.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { UsageError } from '../../src/cli/access.ts';
import { executeRetention, parseDuration, parseImmutableArgs, parseRetentionArgs } from '../../src/cli/retention.ts';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { createTestRegistry, type TestRegistry } from '../support/registry.ts';
import { startServer } from '../support/server.ts';
import { pushImage, pushLayers, tagsOf } from './support.ts';

const loadRetention = (env: NodeJS.ProcessEnv) => ({ intervalSeconds: loadConfig(env).retention.interval });

describe('arguments are validated before anything is stored', () => {
  const bad: Array<[string[], RegExp]> = [
    [['policy', 'add', 'Team/App', '--keep-last', '3'], /invalid repository glob "Team\/App"/],
    [['policy', 'add', 'team/[a]', '--keep-last', '3'], /invalid repository glob/],
    [['policy', 'add', 'team/*', '--keep-last', '3', '--keep-regex', 'v(1'], /invalid tag regex "v\(1"/],
    [['policy', 'add', 'team/*', '--keep-last', '3', '--keep-regex', '[z-a]'], /invalid tag regex/],
    [['policy', 'add', 'team/*', '--keep-last', '-1'], /invalid --keep-last "-1"/],
    [['policy', 'add', 'team/*', '--keep-last', 'three'], /invalid --keep-last/],
    [['policy', 'add', 'team/*', '--untagged-after', '1w'], /invalid duration "1w"/],
    [['policy', 'add', 'team/*', '--untagged-after'], /--untagged-after needs a value/],
    [['policy', 'add', 'team/*', '--keep-regex', 'v.*'], /give one of them too/],
    [['policy', 'add', 'team/*', '--keep-regex', 'v.*', '--untagged-after', '1d'], /give one of them too/],
    [['policy', 'add', 'team/*'], /needs --keep-last, --untagged-after or --unpulled-for/],
    [['policy', 'add', 'team/*', '--unpulled-for', '30 days'], /invalid duration "30 days"/],
    [['policy', 'add', 'team/*', '--keep', '1'], /unknown option "--keep"/],
    [['policy', 'add'], /expected <repository-glob>/],
    [['policy', 'frobnicate'], /unknown retention policy command/],
    [['--dry-run', '--force'], /unknown argument "--force"/],
  ];
  test.each(bad)('retention %j', (args, message) => {
    expect(() => parseRetentionArgs(args)).toThrow(UsageError);
    expect(() => parseRetentionArgs(args)).toThrow(message);
  });

  test.each([
    [['add', 'prod/*', '('], /invalid tag regex "\("/],
    [['add', 'prod/*', ''], /expected <repository-glob> <tag-regex>/],
    [['add', 'prod/@', 'v.*'], /invalid repository glob/],
    [['add', 'prod/*', 'v.*', 'extra'], /expected <repository-glob> <tag-regex>/],
    [['remove', 'prod/*'], /expected <repository-glob> <tag-regex>/],
    [['move'], /unknown immutable command/],
  ])('immutable %j', (args, message) => {
    expect(() => parseImmutableArgs(args)).toThrow(message);
  });

  test('durations', () => {
    expect([parseDuration('90'), parseDuration('90s'), parseDuration('15m'), parseDuration('24h'), parseDuration('7d')]).toEqual([90, 90, 900, 86_400, 604_800]);
  });

  test('BOLLARD_RETENTION_INTERVAL', () => {
    expect(loadRetention({})).toEqual({ intervalSeconds: 3600 });
    expect(loadRetention({ BOLLARD_RETENTION_INTERVAL: '0' })).toEqual({ intervalSeconds: 0 });
    expect(() => loadRetention({ BOLLARD_RETENTION_INTERVAL: '-5' })).toThrow(ConfigError);
    expect(() => loadRetention({ BOLLARD_RETENTION_INTERVAL: 'hourly' })).toThrow(/BOLLARD_RETENTION_INTERVAL/);
  });
});

describe('executing the commands', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await createTestRegistry();
  });
  afterAll(() => reg.close());
  const run = (args: string[]) => executeRetention(parseRetentionArgs(args), reg.pool);
  const immutable = (args: string[]) => executeRetention(parseImmutableArgs(args), reg.pool);

  test('policy add (replacing), list, remove', async () => {
    expect(await run(['policy', 'add', 'team/**', '--keep-last', '10', '--keep-regex', 'v[0-9.]+', '--untagged-after', '24h'])).toBe('set the retention policy of team/**\n');
    await run(['policy', 'add', 'ci/*', '--untagged-after', '3600']);
    await run(['policy', 'add', 'ci/*', '--keep-last', '0']);
    await run(['policy', 'add', 'hub/**', '--unpulled-for', '30d', '--keep-regex', 'stable']);
    expect(await run(['policy', 'list'])).toBe('ci/*\tkeep-last=0\nhub/**\tkeep-regex=stable unpulled-for=2592000s\nteam/**\tkeep-last=10 keep-regex=v[0-9.]+ untagged-after=86400s\n');
    await run(['policy', 'remove', 'hub/**']);
    expect(await run(['policy', 'remove', 'ci/*'])).toBe('removed the retention policy of ci/*\n');
    await expect(run(['policy', 'remove', 'ci/*'])).rejects.toThrow(/no retention policy for ci\/\*/);
    expect(await run(['policy', 'list'])).toBe('team/**\tkeep-last=10 keep-regex=v[0-9.]+ untagged-after=86400s\n');
  });

  test('immutable add, list, remove', async () => {
    expect(await immutable(['add', 'prod/*', 'v.*'])).toBe('tags /v.*/ of prod/* are now immutable\n');
    expect(await immutable(['add', 'prod/*', 'v.*'])).toBe('tags /v.*/ of prod/* were already immutable\n');
    await immutable(['add', '**', 'release-.+']);
    expect(await immutable(['list'])).toBe('**\trelease-.+\nprod/*\tv.*\n');
    await immutable(['remove', '**', 'release-.+']);
    await expect(immutable(['remove', '**', 'release-.+'])).rejects.toThrow(UsageError);
    expect(await immutable(['list'])).toBe('prod/*\tv.*\n');
  });

  test('retention --dry-run prints what retention then deletes; --json gives the same items', async () => {
    await pushLayers(reg.app, 'team/app');
    const old = await pushImage(reg.app, 'team/app', 'old', 'old');
    await pushImage(reg.app, 'team/app', 'new', 'new');
    await run(['policy', 'add', 'team/**', '--keep-last', '1']);
    const line = `team/app\ttag old\t${old.digest}\tpolicy "team/**": older than the 1 most recently pushed tags\n`;
    expect(await run(['--dry-run'])).toBe(`${line}would delete 1 tag(s) and 0 manifest(s)\n`);
    const json = JSON.parse(await run(['--dry-run', '--json']));
    expect(json).toEqual({ dryRun: true, items: [{ repository: 'team/app', kind: 'tag', tag: 'old', digest: old.digest, reason: 'policy "team/**": older than the 1 most recently pushed tags' }] });
    expect(await tagsOf(reg.app, 'team/app')).toEqual(['new', 'old']);
    expect(await run([])).toBe(`${line}deleted 1 tag(s) and 0 manifest(s)\n`);
    expect(await tagsOf(reg.app, 'team/app')).toEqual(['new']);
    expect(JSON.parse(await run(['--json']))).toEqual({ dryRun: false, items: [] });
  });
});

test('bollard serve runs retention in the background; the bollard commands exit 2 on bad input', async () => {
  const server = await startServer({ env: { BOLLARD_RETENTION_INTERVAL: '1' } });
  try {
    const bin = fileURLToPath(new URL('../../bin/bollard.js', import.meta.url));
    const env = { ...process.env, DATABASE_URL: server.databaseUrl, BOLLARD_DATA_DIR: server.dataDir };
    const bollard = (...args: string[]) => promisify(execFile)(process.execPath, [bin, ...args], { env });
    await expect(bollard('retention', 'policy', 'add', 'bg/*', '--keep-last', '1', '--keep-regex', '(')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('invalid tag regex') });
    await expect(bollard('immutable', 'add', 'BG', 'v1')).rejects.toMatchObject({ code: 2 });
    const put = async (tag: string) => {
      const res = await fetch(`${server.url}/v2/bg/app/manifests/${tag}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        body: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/x-test', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 }, layers: [], annotations: { tag } }),
      });
      expect(res.status).toBe(201);
    };
    const empty = await fetch(`${server.url}/v2/bg/app/blobs/uploads/?digest=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/octet-stream' } });
    expect(empty.status).toBe(201);
    for (const t of ['a', 'b', 'c']) await put(t);
    expect((await bollard('retention', 'policy', 'add', 'bg/*', '--keep-last', '1')).stdout).toBe('set the retention policy of bg/*\n');
    const listTags = async () => ((await (await fetch(`${server.url}/v2/bg/app/tags/list`)).json()) as { tags: string[] }).tags;
    const deadline = Date.now() + 20_000;
    // the pass commits, then logs: wait for both
    while ((!server.output().includes('"repository":"bg/app"') || (await listTags()).length > 1) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await listTags()).toEqual(['c']);
    expect(server.output()).toMatch(/"msg":"retention pass","deletedTags":2,"deletedManifests":0/);
    expect(server.output()).toMatch(/"msg":"retention deleted","repository":"bg\/app","tags":2,"manifests":0/);
    expect((await bollard('retention', '--dry-run')).stdout).toBe('would delete 0 tag(s) and 0 manifest(s)\n');
  } finally {
    await server.destroy();
  }
});
