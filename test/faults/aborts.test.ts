// Clients that stop, reset or lie about their length at every phase of every
// upload route, over real TCP against a real `bollard serve`, while honest
// clients push and pull beside them: the registry keeps serving, every honest
// transfer completes, nothing is logged as an unexpected error, no session stays
// locked, and what is stored is intact.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { OCI_MANIFEST } from '../support/fixtures.ts';
import { startServer, type ServerProcess } from '../support/server.ts';
import { errorLines, expectIntact } from './integrity.ts';
import { config, data, manifest, runCutMatrix } from './cut-matrix.ts';
import { cut, openSession, send, targetOf, type Target } from './raw.ts';

describe('aborted, reset and lying upload requests', () => {
  let server: ServerProcess;
  let t: Target;
  beforeAll(async () => {
    server = await startServer();
    t = targetOf(server.url);
    for (const b of [config, data]) expect((await send(t, 'POST', `/v2/faults/base/blobs/uploads/?digest=${b.digest}`, {}, b.data)).status).toBe(201);
  });
  afterAll(async () => {
    await server?.destroy();
  });

  test('every route, cut by FIN or RST before the lease, while it waits for the database, mid-body and during the commit', async () => {
    const report = await runCutMatrix(server.url);
    expect(report.unreachable).toBeNull();
    expect(report.honest.pushes).toBeGreaterThan(3);
    expect(server.alive()).toBe(true);
    // no session stays locked after its client is gone: the next chunk is taken at once
    expect(report.sessionsFree).toBe(report.sessions);
    // a blob whose whole body was sent is there in full or not at all
    expect(report.faulty).toEqual([]);
    expect(report.whole + report.absent).toBe(report.cases);
    expect(errorLines(server)).toEqual([]);
    await expectIntact(server);
  });

  test('bodies longer or shorter than their Content-Length', async () => {
    // longer: the surplus is read as a next request, which Node's HTTP parser refuses
    // with an empty 400 and a closed connection (often before the first answer is
    // out); the announced part is judged alone: it does not match the digest
    const longer = await send(t, 'POST', `/v2/faults/lie/blobs/uploads/?digest=${data.digest}`, { 'Content-Length': 1000 }, data.data);
    expect(longer.status).toBe(400);
    if (longer.body !== '') expect(JSON.parse(longer.body).errors[0].code).toBe('DIGEST_INVALID');
    expect((await send(t, 'HEAD', `/v2/faults/lie/blobs/${data.digest}`)).status).toBe(404);
    const session = await openSession(t, 'faults/lie');
    const chunk = await send(t, 'PATCH', session, { 'Content-Length': 10 }, Buffer.alloc(5000, 1));
    expect(chunk.status).toBe(400); // the parser's, for the surplus
    // the connection is torn down when the surplus is parsed, before or after the 10
    // announced bytes were recorded; the next chunk waits for that writer's lease and
    // finds the session consistent either way
    const after = await send(t, 'PATCH', session, {}, Buffer.from('more'));
    expect(after.status, after.body).toBe(202);
    expect(['0-3', '0-13']).toContain(after.headers.range);

    // shorter: the client says 100 000 and sends 1 000 then goes; the session keeps its offset
    const other = await openSession(t, 'faults/lie');
    expect((await send(t, 'PATCH', other, {}, Buffer.alloc(10, 2))).headers.range).toBe('0-9');
    await cut(t, 'PATCH', other, data.data, { kind: 'close', after: 1000, delayMs: 50 });
    const status = await send(t, 'GET', other);
    expect(status.status).toBe(204);
    expect(status.headers.range).toBe('0-9');
    const next = await send(t, 'PATCH', other, {}, Buffer.from('more'));
    expect(next.status, next.body).toBe(202);
    expect(next.headers.range).toBe('0-13');
    expect(server.alive()).toBe(true);
    expect(errorLines(server)).toEqual([]);
  });

  test('a push and pull round trip afterwards', async () => {
    for (const b of [config, data]) expect((await send(t, 'POST', `/v2/faults/after/blobs/uploads/?digest=${b.digest}`, {}, b.data)).status).toBe(201);
    const put = await send(t, 'PUT', '/v2/faults/after/manifests/v1', { 'Content-Type': OCI_MANIFEST }, manifest.data);
    expect(put.status, put.body).toBe(201);
    const got = await send(t, 'GET', '/v2/faults/after/manifests/v1', { Accept: OCI_MANIFEST });
    expect(got.headers['docker-content-digest']).toBe(manifest.digest);
    const pulled = await fetch(`${server.url}/v2/faults/after/blobs/${data.digest}`);
    expect(Buffer.from(await pulled.arrayBuffer()).equals(data.data)).toBe(true);
  });
});
