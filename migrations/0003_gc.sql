-- Online garbage collection (issue 5). The collector itself is src/registry/gc/collector.ts.
-- The protocol: docs/architecture.md, sections "Garbage collection" (with pins and fences) and "The lock order".

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

-- Pins and fences: docs/architecture.md#pins-and-fences.
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
