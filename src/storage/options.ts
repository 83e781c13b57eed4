// What the storage drivers need to know, declared here so that storage depends on
// no configuration loader: src/config produces values of this type.

/** Where blob bytes live. */
export type StorageConfig =
  | {
      kind: 'fs';
      /** Stage uploads with O_DIRECT writes where the filesystem allows it. */
      directIo: boolean;
    }
  | {
      kind: 's3';
      bucket: string;
      /** Absent: AWS's own endpoint for the region. */
      endpoint: string | undefined;
      region: string;
      forcePathStyle: boolean;
      /** '' or ending in '/'. */
      prefix: string;
      /** Answer blob GETs with 307 to a presigned URL. */
      redirect: boolean;
      partSize: number;
      uploadConcurrency: number;
      /** Largest object completed with one CopyObject; larger ones with parallel UploadPartCopy. */
      copyObjectMax: number;
      /** Absent: the SDK's default credential chain. */
      credentials?: { accessKeyId: string; secretAccessKey: string };
    };
