-- Bollard schema, version 1. Forward-only: later changes go in new numbered files.
--
-- Refcounts (kept exact by every committing transaction, see src/db/):
--   blobs.refcount             = rows in repository_blobs for the blob
--   repository_blobs.refcount  = manifests of that repository that list the blob
--   manifests.refcount         = tags naming the manifest + indexes listing it

CREATE TABLE repositories (
  id         bigserial PRIMARY KEY,
  name       text COLLATE "C" NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE blobs (
  id         bigserial PRIMARY KEY,
  blake3     bytea NOT NULL UNIQUE CHECK (length(blake3) = 32),
  size       bigint NOT NULL CHECK (size >= 0),
  sha256     bytea UNIQUE CHECK (length(sha256) = 32),
  sha512     bytea UNIQUE CHECK (length(sha512) = 64),
  refcount   bigint NOT NULL DEFAULT 0 CHECK (refcount >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (sha256 IS NOT NULL OR sha512 IS NOT NULL)
);

CREATE TABLE repository_blobs (
  repository_id bigint NOT NULL REFERENCES repositories (id),
  blob_id       bigint NOT NULL REFERENCES blobs (id),
  refcount      bigint NOT NULL DEFAULT 0 CHECK (refcount >= 0),
  linked_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository_id, blob_id)
);
CREATE INDEX repository_blobs_blob ON repository_blobs (blob_id);

CREATE TABLE manifests (
  id             bigserial PRIMARY KEY,
  repository_id  bigint NOT NULL REFERENCES repositories (id),
  digest         text COLLATE "C" NOT NULL,
  media_type     text NOT NULL,
  artifact_type  text,
  subject_digest text COLLATE "C",
  annotations    jsonb,
  content        bytea NOT NULL,
  refcount       bigint NOT NULL DEFAULT 0 CHECK (refcount >= 0),
  created_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_subject ON manifests (repository_id, subject_digest, digest)
  WHERE subject_digest IS NOT NULL;

CREATE TABLE manifest_blobs (
  manifest_id bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  blob_id     bigint NOT NULL REFERENCES blobs (id),
  PRIMARY KEY (manifest_id, blob_id)
);
CREATE INDEX manifest_blobs_blob ON manifest_blobs (blob_id);

CREATE TABLE manifest_children (
  parent_id bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  child_id  bigint NOT NULL REFERENCES manifests (id),
  PRIMARY KEY (parent_id, child_id)
);
CREATE INDEX manifest_children_child ON manifest_children (child_id);

CREATE TABLE tags (
  repository_id bigint NOT NULL REFERENCES repositories (id),
  name          text COLLATE "C" NOT NULL,
  manifest_id   bigint NOT NULL REFERENCES manifests (id),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository_id, name)
);
CREATE INDEX tags_manifest ON tags (manifest_id);

CREATE TABLE upload_sessions (
  id            uuid PRIMARY KEY,
  repository_id bigint NOT NULL REFERENCES repositories (id),
  byte_offset   bigint NOT NULL DEFAULT 0 CHECK (byte_offset >= 0),
  -- the storage driver's state for this session, canonical CBOR
  driver_state  bytea NOT NULL,
  -- a writer holds the lease while it appends, so two requests never write at once
  lease_token   uuid,
  lease_until   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX upload_sessions_updated ON upload_sessions (updated_at);

CREATE TABLE events (
  id         bigserial PRIMARY KEY,
  kind       text NOT NULL,
  repository text COLLATE "C",
  digest     text COLLATE "C",
  tag        text COLLATE "C",
  actor      text,
  -- the whole event as canonical CBOR
  payload    bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_repository ON events (repository, id);
