-- The pull-through cache's shared state (docs/proxy.md): the fetches in flight, and
-- when each cached tag was last confirmed upstream.
--
-- Single-flight (docs/proxy.md, "Single-flight"): one row
-- per upstream fetch in flight, on any replica. The process that inserts the row
-- fetches; every other pull of the same key waits for it (or follows its staged
-- bytes) instead of asking the upstream again. The row is deleted when the fetch
-- commits; when it fails, its error is kept a moment for the waiters, then the
-- row is deleted (or taken by the next claim). A row whose holder (the advisory lock of
-- migrations/0007_upload_leases.sql) is gone, or whose heartbeat stopped, is
-- taken over by the next pull.
--
--   kind, key     'blob' and the digest, or 'manifest' and '<repository>:<reference>'
--   repository    the repository the fetch links the content to
--   token         this fetch (a takeover draws a new one: a late update of the old one matches nothing)
--   upload_id     the staging the blob is written to (readable by followers on the fs driver)
--   size          the blob's length as the upstream announced it; null until it answered, or when it did not say
--   stored        bytes received so far
--   failure       the fetch failed: {code, detail, headers} of the error its waiters are given
CREATE TABLE proxy_fetches (
  kind text NOT NULL CHECK (kind IN ('blob', 'manifest')),
  key text COLLATE "C" NOT NULL,
  repository text NOT NULL,
  token uuid NOT NULL,
  holder integer,
  upload_id uuid,
  size bigint,
  stored bigint NOT NULL DEFAULT 0,
  failure jsonb,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, key)
);

-- When each cached tag of a proxied repository was last confirmed upstream: a tag
-- is served from the cache without asking the upstream while this is within the
-- tag TTL, on every replica and across restarts.
CREATE TABLE proxy_tags (
  repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  tag text COLLATE "C" NOT NULL,
  confirmed_at timestamptz NOT NULL,
  PRIMARY KEY (repository_id, tag)
);
