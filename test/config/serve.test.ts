// `bollard serve` reads the file BOLLARD_CONFIG names, and its environment wins:
// the file's listen address is overridden by BOLLARD_LISTEN (the server answers
// on the port the environment gave), while the file's other settings hold.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { startServer, type ServerProcess } from '../support/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'bollard-config-serve-'));
let server: ServerProcess | undefined;
afterAll(async () => {
  await server?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('serve takes its settings from the file, the environment over it', async () => {
  const path = join(dir, 'bollard.yaml');
  writeFileSync(path, 'listen: 127.0.0.1:1\nregistry:\n  deleteEnabled: false\n');
  server = await startServer({ env: { BOLLARD_CONFIG: path } });
  expect((await fetch(`${server.url}/v2/`)).status).toBe(200);
  const res = await fetch(`${server.url}/v2/some/repo/blobs/sha256:${'0'.repeat(64)}`, { method: 'DELETE' });
  expect(res.status).toBe(405);
  expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('UNSUPPORTED');
});
