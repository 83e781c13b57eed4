// HTTPS against a real `bollard serve`: a test CA and server certificate made
// with openssl in a temp dir; skopeo and podman push and pull trusting that CA
// (no --tls-verify=false); a renewed certificate is presented without a restart,
// after SIGHUP and after a mere file change; a broken one is refused and the
// current one kept.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createSandbox, requireTools, tools, type Sandbox } from '../e2e/containers-sandbox.ts';
import { initLayout, resolveRef, writeImage, writeIndexJson } from '../e2e/oci-layout.ts';
import type { ServerProcess } from '../support/server.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { cleanup, startServe, type ServeChild } from '../lifecycle/serve-child.ts';

const SKOPEO = await requireTools('test/tls/https.test.ts', ['skopeo']);
const PODMAN = await requireTools('test/tls/https.test.ts', ['podman']);

let dir: string;
let certDir: string;
let db: TestDatabase;
let serve: ServeChild;
let sandbox: Sandbox | undefined;
let ca: Buffer;

const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
/** A server certificate for 127.0.0.1 from the test CA, with this serial, over the one server key. */
const issue = (serial: string, out: string) =>
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${serial}`, '-days', '2', '-extfile', 'san.ext', '-out', out]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bollard-tls-'));
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=bollard test CA']);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  // as certbot keeps them: live/server.crt is a symlink to a file elsewhere, so
  // rewriting that file changes nothing in live/ (only SIGHUP tells), while
  // pointing the link at a new file is a change there
  await mkdir(join(dir, 'live'));
  await mkdir(join(dir, 'store'));
  issue('1001', 'store/a.pem');
  await symlink('../store/a.pem', join(dir, 'live', 'server.crt'));
  ca = await readFile(join(dir, 'ca.crt'));
  // what containers/image reads from a --cert-dir: *.crt files are CAs to trust
  certDir = join(dir, 'certs.d');
  await mkdir(certDir);
  await writeFile(join(certDir, 'ca.crt'), ca);
  db = await createTestDatabase();
  const dataDir = join(dir, 'data');
  serve = await startServe({
    dataDir, databaseUrl: db.url,
    env: { BOLLARD_TLS_CERT_FILE: join(dir, 'live', 'server.crt'), BOLLARD_TLS_KEY_FILE: join(dir, 'server.key') },
  });
});

afterAll(async () => {
  cleanup(serve, undefined);
  await sandbox?.remove();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

const hostPort = () => `127.0.0.1:${serve.port}`;

/** The serial of the certificate the server presents to a new connection, verified against the test CA. */
function peerSerial(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: serve.port, ca }, () => {
      const serial = socket.getPeerCertificate().serialNumber.replace(/^0+/, '').toLowerCase();
      socket.end();
      resolve(serial);
    });
    socket.once('error', reject);
  });
}

async function waitForSerial(serial: string): Promise<void> {
  const until = Date.now() + 20_000;
  while ((await peerSerial()) !== serial) {
    if (Date.now() > until) expect.fail(`the server never presented serial ${serial}:\n${serve.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('serve listens on https:// and answers with the configured certificate', async () => {
  expect(serve.logged('bollard listening')[0]).toMatchObject({ url: `https://${hostPort()}`, tls: { serial: '1001' } });
  expect(await peerSerial()).toBe('1001');
});

/** Sends raw bytes over TLS and returns what the server answers before closing. */
function rawTls(bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect({ host: '127.0.0.1', port: serve.port, ca }, () => socket.write(bytes));
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.once('close', () => resolve(answer));
    socket.once('error', reject);
  });
}

test('over HTTPS the HTTP layer answers as over HTTP: malformed requests 400, CONNECT 405, unknown targets the OCI 404', async () => {
  expect(await rawTls('NONSENSE\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
  expect(await rawTls('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')).toMatch(/^HTTP\/1\.1 405 /);
  const res = await rawTls('GET http://[/v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  expect(res).toMatch(/^HTTP\/1\.1 404 /);
  expect(res).toContain('NAME_UNKNOWN');
});

test.skipIf(!SKOPEO)('skopeo pushes and pulls over HTTPS, trusting the test CA', async () => {
  sandbox = await createSandbox('bl-tls-', 'insecure.invalid:1'); // our registry is not marked insecure
  const t = tools(sandbox, () => ({ output: () => serve.output(), hostPort: hostPort() }) as unknown as ServerProcess);
  const layout = join(sandbox.dir, 'in');
  await initLayout(layout);
  const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';
  const image = await writeImage(layout, { platform: { os: 'linux', architecture: arch }, layers: [[{ path: 'hello.txt', data: Buffer.from('over https\n') }]] });
  await writeIndexJson(layout, [{ ref: 'v1', descriptor: image.manifest }]);
  await t.ok('skopeo', '', ['copy', '--dest-cert-dir', certDir, `oci:${layout}:v1`, `docker://${hostPort()}/tls/app:v1`]);
  const out = join(sandbox.dir, 'out');
  await t.ok('skopeo', '', ['copy', '--src-cert-dir', certDir, `docker://${hostPort()}/tls/app:v1`, `oci:${out}:v1`]);
  expect((await resolveRef(out, 'v1')).digest).toBe(image.manifest.digest);
  // without the CA the certificate is refused: the test proves verification happens
  const refused = await t.attempt('skopeo', '', ['inspect', '--raw', `docker://${hostPort()}/tls/app:v1`]);
  expect(refused.code, t.why(refused)).not.toBe(0);
  expect(refused.stderr).toMatch(/certificate/);
});

test.skipIf(!SKOPEO || !PODMAN)('podman pulls and pushes over HTTPS with --cert-dir', async () => {
  expect(sandbox, 'the skopeo test pushes the image podman pulls').toBeDefined();
  const box = sandbox as Sandbox;
  const t = tools(box, () => ({ output: () => serve.output(), hostPort: hostPort() }) as unknown as ServerProcess);
  const sig = ['--signature-policy', box.policy, '--cert-dir', certDir];
  await t.ok('podman', 'main', ['pull', ...sig, `docker://${hostPort()}/tls/app:v1`]);
  await t.ok('podman', 'main', ['push', ...sig, `${hostPort()}/tls/app:v1`, `docker://${hostPort()}/tls/podman:v1`]);
  const res = await t.ok('skopeo', '', ['inspect', '--raw', '--cert-dir', certDir, `docker://${hostPort()}/tls/podman:v1`]);
  expect(JSON.parse(res.stdout)).toHaveProperty('layers');
});

/** Points live/server.crt at another file, atomically (a rename in live/). */
async function relink(target: string): Promise<void> {
  await rm(join(dir, 'live', 'next.crt'), { force: true });
  await symlink(`../store/${target}`, join(dir, 'live', 'next.crt'));
  await rename(join(dir, 'live', 'next.crt'), join(dir, 'live', 'server.crt'));
}

test('a renewed certificate is presented without a restart: on SIGHUP, on a file change; a broken one is refused', async () => {
  // rewritten behind the symlink: only SIGHUP makes it known
  issue('2002', 'store/a.pem');
  process.kill(serve.pid, 'SIGHUP');
  await waitForSerial('2002');

  // the link pointed at a renewed file: the change alone is enough
  issue('3003', 'store/b.pem');
  await relink('b.pem');
  await waitForSerial('3003');
  expect(serve.logged('tls certificate reloaded').map((l) => [l.reason, l.serial])).toEqual([['SIGHUP', '2002'], ['file change', '3003']]);

  // a certificate that does not match the key: logged, the current pair kept
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'other.key', '-out', 'store/c.pem', '-days', '2', '-subj', '/CN=other']);
  await relink('c.pem');
  const refused = await serve.waitFor('tls certificate not reloaded, keeping the current one', 20_000);
  expect(String(refused.error)).toMatch(/cannot be used/);
  expect(await peerSerial()).toBe('3003');
  const plain = await fetch(`http://127.0.0.1:${serve.port}/v2/`).catch(() => null);
  expect(plain?.status).not.toBe(200); // HTTPS only

  expect(serve.running()).toBe(true);
  expect(serve.logged('bollard listening')).toHaveLength(1);
  process.kill(serve.pid, 'SIGTERM');
  expect(await serve.exited).toBe(0);
});
