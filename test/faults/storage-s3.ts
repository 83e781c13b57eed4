// The S3 side of the storage faults: a proxy in front of the run's S3 that can be
// down (nothing listens: connections are refused), answer 500 InternalError to
// everything, or accept requests and never answer; and a bucket of this run's own
// with a quota (Ceph's `radosgw-admin`), which S3 enforces with 403 QuotaExceeded,
// the way a store fills up. (test/support/s3-proxy.ts has no refusal and no 500.)
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import type { TestS3 } from '../support/s3-server.ts';
import { newPrefix, prefixContents, testS3Client } from '../support/stores.ts';

export type Outage = 'up' | 'down' | 'error500' | 'hang';

export interface FaultyS3 {
  endpoint: string;
  set(mode: Outage): Promise<void>;
  close(): Promise<void>;
}

const INTERNAL_ERROR = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>';

export async function startFaultyS3(target: string): Promise<FaultyS3> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  let mode: Outage = 'up';
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    if (mode === 'hang') return; // the request is never read nor answered
    if (mode === 'error500') {
      req.resume();
      res.writeHead(500, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(INTERNAL_ERROR) }).end(INTERNAL_ERROR);
      return;
    }
    const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
      // Ceph answers a 403 QuotaExceeded as soon as it has the headers and then stops reading the
      // body. A client talking to it directly has usually sent the whole body by then; here the rest
      // would stay unread on the client's connection, and its next request there never be parsed.
      up.on('end', () => {
        if (req.complete) return;
        req.unpipe(out);
        out.destroy();
        req.resume();
      });
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  };
  const server: Server = createServer(forward);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const dropConnections = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    set: async (next) => {
      dropConnections(); // a mode holds from the next request on, on any connection
      if (next === 'down' && mode !== 'down') await new Promise((resolve) => server.close(resolve));
      if (next !== 'down' && mode === 'down') {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
          });
        });
      }
      mode = next;
    },
    close: async () => {
      dropConnections();
      if (mode !== 'down') await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface FaultBucket {
  bucket: string;
  prefix: string;
  /** Sets the bucket's quota in bytes (null: none); absent when the S3 server is not the run's own Ceph. */
  setQuota?: (bytes: number | null) => Promise<void>;
  /** Everything stored under the prefix, open multipart uploads included. */
  contents(): Promise<string[]>;
  destroy(): Promise<void>;
}

/** Where the run's Ceph keeps its configuration (scripts/ceph-s3.sh), when the run started it. */
function cephConf(): string | null {
  if (process.env.BOLLARD_TEST_S3_ENDPOINT) return null;
  const conf = join(process.env.BOLLARD_CEPH_DIR ?? '/tmp/bollard-ceph', 'ceph.conf');
  const onPath = (process.env.PATH ?? '').split(delimiter).some((d) => {
    try {
      accessSync(join(d, 'radosgw-admin'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  try {
    accessSync(conf, constants.R_OK);
  } catch {
    return null;
  }
  return onPath ? conf : null;
}

/**
 * A bucket of this run's own with the run's Ceph (so a quota can be put on it);
 * otherwise a fresh prefix of the run's test bucket, without quota.
 */
export async function faultBucket(s3: TestS3): Promise<FaultBucket> {
  const conf = cephConf();
  if (!conf) {
    const prefix = newPrefix('storage-faults');
    return { bucket: s3.bucket, prefix, ...prefixContents(s3, prefix) };
  }
  const bucket = `bollard-faults-${Math.random().toString(36).slice(2, 10)}`;
  const client = testS3Client(s3);
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const own = prefixContents({ ...s3, bucket }, 'faults/');
  const admin = (...args: string[]) => promisify(execFile)('radosgw-admin', ['-c', conf, '-n', 'client.rgw.bollard', '--admin-socket=', ...args], { timeout: 30_000 });
  return {
    bucket,
    prefix: 'faults/',
    setQuota: async (bytes) => {
      if (bytes === null) {
        await admin('quota', 'disable', '--quota-scope=bucket', `--bucket=${bucket}`);
        return;
      }
      await admin('quota', 'set', '--quota-scope=bucket', `--bucket=${bucket}`, `--max-size=${bytes}`);
      await admin('quota', 'enable', '--quota-scope=bucket', `--bucket=${bucket}`);
    },
    contents: own.contents,
    destroy: async () => {
      await own.destroy();
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      client.destroy();
    },
  };
}
