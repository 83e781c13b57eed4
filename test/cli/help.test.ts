// The command line explains itself: a bare `bollard`, --help on every command and
// subcommand, and --version print and exit, and never start a server.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Command, CommanderError } from 'commander';
import { describe, expect, test } from 'vitest';
import { buildProgram } from '../../src/cli/program.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/bollard.js', import.meta.url).pathname;
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The real command, with a port nobody may take: a server started by mistake would fail or hang, not pass. */
async function bollard(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 20_000, env: { ...process.env, BOLLARD_LISTEN: '127.0.0.1:1' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the real bollard command', () => {
  test('bare, it prints help and exits 0', async () => {
    const r = await bollard();
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: bollard \[options\] \[command\]/);
    expect(r.stdout).toContain('serve');
  });

  test('serve --help prints the help of serve and starts nothing', async () => {
    const r = await bollard('serve', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: bollard serve/);
    expect(r.stdout).toContain('--config <file>');
    expect(r.stderr).toBe('');
  });

  test('--version prints the version', async () => {
    expect(await bollard('--version')).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
  });

  test('an unknown command or a missing argument is a usage error, status 2', async () => {
    const unknown = await bollard('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const missing = await bollard('users', 'add');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'name'");
  });
});

describe('every command and subcommand has its --help', () => {
  const noop = async () => undefined;
  const paths = (cmd: Command, prefix: string[] = []): string[][] =>
    cmd.commands.filter((c) => c.name() !== 'help').flatMap((c) => [[...prefix, c.name()], ...paths(c, [...prefix, c.name()])]);
  const all = paths(buildProgram({ serve: noop, migrate: noop, retention: noop }));

  test('the tree holds the operator commands', () => {
    expect(all.map((p) => p.join(' '))).toEqual(expect.arrayContaining([
      'serve', 'migrate', 'users add', 'grants list', 'gc', 'scrub', 'retention policy add', 'immutable add', 'webhooks add', 'config check',
    ]));
  });

  for (const path of all) {
    test(path.join(' '), async () => {
      let out = '';
      let ran = false;
      const program = buildProgram({ serve: async () => void (ran = true), migrate: async () => void (ran = true), retention: async () => void (ran = true) });
      const capture = (c: Command): void => {
        c.configureOutput({ writeOut: (s) => void (out += s), writeErr: (s) => void (out += s) });
        c.commands.forEach(capture);
      };
      capture(program);
      const done = await program.parseAsync([...path, '--help'], { from: 'user' }).then(() => null, (err: unknown) => err);
      expect(done).toBeInstanceOf(CommanderError);
      expect((done as CommanderError).exitCode).toBe(0);
      expect(out).toMatch(new RegExp(`^Usage: bollard ${path.join(' ')}`));
      expect(ran).toBe(false);
    });
  }
});
