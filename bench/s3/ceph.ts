// The benchmark's S3 server: the same Ceph RADOS Gateway the tests use
// (scripts/ceph-s3.sh), and fresh buckets for each registry under test.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { distributionConfig } from '../lib/servers.ts';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';

export interface S3Server {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

const SCRIPT = fileURLToPath(new URL('../../scripts/ceph-s3.sh', import.meta.url));

export function startCeph(): S3Server {
  const out = execFileSync('bash', [SCRIPT, 'start'], { env: { ...process.env, BOLLARD_CEPH_INSTALL: '1' }, stdio: ['ignore', 'pipe', 'inherit'] }).toString();
  const v = Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { endpoint: v.S3_ENDPOINT ?? '', accessKeyId: v.S3_ACCESS_KEY_ID ?? '', secretAccessKey: v.S3_SECRET_ACCESS_KEY ?? '', region: v.S3_REGION ?? 'us-east-1' };
}

export function s3Client(s: S3Server): S3Client {
  return new S3Client({
    endpoint: s.endpoint,
    region: s.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
  });
}

export async function createBucket(s: S3Server, name: string): Promise<void> {
  const client = s3Client(s);
  try {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  } finally {
    client.destroy();
  }
}

/** Empties and removes a bucket, so repeated runs do not fill the gateway's disk. */
export async function deleteBucket(s: S3Server, name: string): Promise<void> {
  const client = s3Client(s);
  try {
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: name }));
    for (const u of uploads.Uploads ?? []) await client.send(new AbortMultipartUploadCommand({ Bucket: name, Key: u.Key, UploadId: u.UploadId }));
    for (;;) {
      const page = await client.send(new ListObjectsV2Command({ Bucket: name }));
      if (!page.Contents?.length) break;
      await Promise.all(page.Contents.map((o) => client.send(new DeleteObjectCommand({ Bucket: name, Key: o.Key }))));
    }
    await client.send(new DeleteBucketCommand({ Bucket: name }));
  } finally {
    client.destroy();
  }
}

/** Environment for `bollard serve` on this server. */
export function bollardS3Env(s: S3Server, bucket: string): Record<string, string> {
  return {
    BOLLARD_STORAGE: 's3',
    BOLLARD_S3_ENDPOINT: s.endpoint,
    BOLLARD_S3_BUCKET: bucket,
    BOLLARD_S3_REGION: s.region,
    BOLLARD_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: s.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s.secretAccessKey,
  };
}

/** distribution 2.8.2's configuration for its S3 driver on this server. */
export function distributionS3Config(s: S3Server, bucket: string, port: number): string {
  return distributionConfig(
    [
      '  s3:',
      `    accesskey: ${s.accessKeyId}`,
      `    secretkey: ${s.secretAccessKey}`,
      `    region: ${s.region}`,
      `    regionendpoint: ${s.endpoint}`,
      `    bucket: ${bucket}`,
      '    secure: false',
      '    v4auth: true',
      '    rootdirectory: /registry',
      '  redirect:',
      '    disable: true',
    ],
    port,
  );
}
