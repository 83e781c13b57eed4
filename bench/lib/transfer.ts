// Runs bench/lib/transfer.py, the client of the 1 GiB transfers (see its header
// for why it is a separate, leaner client), and returns its own timing.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DataFile } from './files.ts';

const SCRIPT = fileURLToPath(new URL('./transfer.py', import.meta.url));

interface Transfer {
  seconds: number;
  bytes: number;
}

function run(args: string[]): Promise<Transfer> {
  return new Promise((resolve, reject) => {
    execFile('python3', [SCRIPT, ...args], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${args[0]} transfer failed: ${stderr.trim() || err.message}`));
      resolve(JSON.parse(stdout) as Transfer);
    });
  });
}

export function sendMonolithic(base: string, repo: string, file: DataFile): Promise<Transfer> {
  return run(['mono', base, repo, file.path, String(file.size), file.digest]);
}

export function sendChunked(base: string, repo: string, file: DataFile, chunk: number): Promise<Transfer> {
  return run(['chunked', base, repo, file.path, String(file.size), file.digest, String(chunk)]);
}

export function receive(base: string, repo: string, digest: string): Promise<Transfer> {
  return run(['pull', base, repo, digest]);
}
