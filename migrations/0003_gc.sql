-- Online garbage collection (issue 5). The collector itself is src/registry/gc.ts.
--
-- Review queues. When a row becomes unreferenced it enters a queue with the time
-- it happened; the worker reviews entries older than the review delay, rechecks
-- with the row locked, and deletes. A row referenced again before its review
-- leaves the queue at once. Triggers keep the queues, so no code path that moves a
-- refcount has to remember them:
--   blobs.refcount = 0             -> gc_blob_reviews      (no repository links the blob)
--   repository_blobs.refcount = 0  -> gc_link_reviews      (no manifest of the repository lists it)
--   manifests.refcount = 0         -> gc_manifest_reviews  (no tag, no index lists it)
-- A blob row is always linked in the transaction that inserts it, so blob
-- inserts need no trigger; link and manifest rows start unreferenced.
--
-- Row locks, in the one order every transaction takes them (so concurrent
-- commits cannot deadlock): the repository row (FOR NO KEY UPDATE, taken by
-- every manifest and tag change, which serialises them per repository), tags,
-- manifests by id, the per-blob advisory lock, blobs by id, repository_blobs by
-- blob id, then the queue, pin and fence rows.

CREATE TABLE gc_blob_reviews (
  blob_id bigint PRIMARY KEY REFERENCES blobs (id) ON DELETE CASCADE,
  since   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gc_blob_reviews_since ON gc_blob_reviews (since);

CREATE TABLE gc_link_reviews (
  repository_id bigint NOT NULL,
  blob_id       bigint NOT NULL,
  since         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository_id, blob_id),
  FOREIGN KEY (repository_id, blob_id) REFERENCES repository_blobs (repository_id, blob_id) ON DELETE CASCADE
);
CREATE INDEX gc_link_reviews_since ON gc_link_reviews (since);

CREATE TABLE gc_manifest_reviews (
  manifest_id bigint PRIMARY KEY REFERENCES manifests (id) ON DELETE CASCADE,
  since       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gc_manifest_reviews_since ON gc_manifest_reviews (since);

-- Pins and fences keep bytes and rows in step without I/O inside a transaction.
-- Both are written under the blob's advisory lock (pg_advisory_xact_lock of its
-- BLAKE3 key, see src/db/gc.ts):
--  * a pin: an upload takes one before it writes or reuses the object, and drops
--    it in the transaction that commits the blob row; no collector deletes pinned
--    bytes. A pin expires, so a crashed upload cannot pin bytes forever.
--  * a fence: a collector (or the storage sweep) inserts it in the transaction
--    that removes the last row naming the object, deletes the bytes after commit,
--    then removes it. An upload waits for a fence to go before pinning.
CREATE TABLE blob_pins (
  token      uuid PRIMARY KEY,
  blake3     bytea NOT NULL CHECK (length(blake3) = 32),
  expires_at timestamptz NOT NULL
);
CREATE INDEX blob_pins_blake3 ON blob_pins (blake3);

CREATE TABLE blob_deletions (
  blake3     bytea PRIMARY KEY CHECK (length(blake3) = 32),
  started_at timestamptz NOT NULL DEFAULT now()
);

-- Integrity scrub: a blob whose stored bytes failed the BLAKE3 check. Its bytes
-- were moved aside; the blob reads as unknown until a push writes them again.
ALTER TABLE blobs ADD COLUMN quarantined_at timestamptz;

CREATE FUNCTION gc_review_blob() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.refcount = 0 THEN
    INSERT INTO gc_blob_reviews (blob_id) VALUES (NEW.id)
    ON CONFLICT (blob_id) DO UPDATE SET since = now();
  ELSE
    DELETE FROM gc_blob_reviews WHERE blob_id = NEW.id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER blobs_gc_review AFTER UPDATE OF refcount ON blobs
  FOR EACH ROW WHEN ((OLD.refcount = 0) IS DISTINCT FROM (NEW.refcount = 0))
  EXECUTE FUNCTION gc_review_blob();

CREATE FUNCTION gc_review_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.refcount = 0 THEN
    INSERT INTO gc_link_reviews (repository_id, blob_id) VALUES (NEW.repository_id, NEW.blob_id)
    ON CONFLICT (repository_id, blob_id) DO UPDATE SET since = now();
  ELSE
    DELETE FROM gc_link_reviews WHERE repository_id = NEW.repository_id AND blob_id = NEW.blob_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER repository_blobs_gc_insert AFTER INSERT ON repository_blobs
  FOR EACH ROW WHEN (NEW.refcount = 0)
  EXECUTE FUNCTION gc_review_link();

CREATE TRIGGER repository_blobs_gc_review AFTER UPDATE OF refcount ON repository_blobs
  FOR EACH ROW WHEN ((OLD.refcount = 0) IS DISTINCT FROM (NEW.refcount = 0))
  EXECUTE FUNCTION gc_review_link();

CREATE FUNCTION gc_review_manifest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.refcount = 0 THEN
    INSERT INTO gc_manifest_reviews (manifest_id) VALUES (NEW.id)
    ON CONFLICT (manifest_id) DO UPDATE SET since = now();
  ELSE
    DELETE FROM gc_manifest_reviews WHERE manifest_id = NEW.id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER manifests_gc_insert AFTER INSERT ON manifests
  FOR EACH ROW WHEN (NEW.refcount = 0)
  EXECUTE FUNCTION gc_review_manifest();

CREATE TRIGGER manifests_gc_review AFTER UPDATE OF refcount ON manifests
  FOR EACH ROW WHEN ((OLD.refcount = 0) IS DISTINCT FROM (NEW.refcount = 0))
  EXECUTE FUNCTION gc_review_manifest();

-- A manifest that goes away may orphan referrers whose subject it was: they
-- are reviewed again (a referrer with its subject present is kept).
CREATE FUNCTION gc_review_referrers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO gc_manifest_reviews (manifest_id)
  SELECT id FROM manifests
  WHERE repository_id = OLD.repository_id AND subject_digest = OLD.digest AND refcount = 0
  ON CONFLICT (manifest_id) DO UPDATE SET since = now();
  RETURN NULL;
END $$;

CREATE TRIGGER manifests_gc_referrers AFTER DELETE ON manifests
  FOR EACH ROW EXECUTE FUNCTION gc_review_referrers();
