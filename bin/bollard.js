#!/usr/bin/env node
// Entry point of the `bollard` command. Bollard runs on Node 24, which the
// project installs from the npm registry (the `node` package); when started by
// an older system Node, re-run this script under the project's own Node.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);

// V8 flags for `bollard serve`. Request bodies arrive as fresh 64 KiB buffers
// and a push allocates few JS objects per buffer, so with V8's default young
// generation (semi-spaces up to 16 MB) dead buffers were collected only after
// external memory had grown by 64 MB: a long push held 60-80 MB of them. With
// 1 MB semi-spaces scavenges come often and cost little (few objects live).
// Measured here: peak RSS pushing 1 GiB 186 -> 130 MB, idle 105 -> 91 MB, no
// measurable change in push or manifest GET throughput.
const SERVER_FLAGS = ['--max-semi-space-size=1'];
const wantsFlags = process.argv[2] === 'serve' && !SERVER_FLAGS.every((f) => process.execArgv.includes(f));

if (major < 24) {
  const require = createRequire(import.meta.url);
  let nodeBin;
  try {
    nodeBin = join(dirname(require.resolve('node/package.json')), 'bin', 'node');
  } catch {
    printLine('error', `bollard needs Node 24 or newer (this is ${process.version}); run npm install first`);
    process.exit(1);
  }
  const child = spawn(nodeBin, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else if (wantsFlags && typeof process.execve === 'function') {
  // the same process (same pid, signals and stdio), restarted with the flags
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...SERVER_FLAGS, fileURLToPath(import.meta.url), ...process.argv.slice(2)], process.env);
} else {
  await run();
}

/** A JSON line as src/logger.ts writes them: this file runs before (or without) the TypeScript sources. */
function printLine(level, msg) {
  process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), msg })}\n`);
}

async function run() {
  // Node strips TypeScript types with a WASM compiler that costs ~30 MB of
  // memory when loaded; the compile cache keeps the stripped sources on disk,
  // so later starts skip it.
  const { enableCompileCache } = await import('node:module');
  enableCompileCache?.();
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (w.name !== 'ExperimentalWarning') printLine('warn', `${w.name}: ${w.message}`);
  });
  const { main } = await import('../src/cli/index.ts');
  await main(process.argv.slice(2));
}

