-- One manifest row per content of a repository, whatever digest algorithm named it
-- (docs/architecture.md, "Digest names"). Until now a content pushed as sha256:… and
-- as sha512:… was two rows with their own tags, refcounts and references.
--
--   manifests.digest         the sha256 name, the row's identity (was: the name it was pushed by)
--   manifests.digest_sha512  the sha512 name of the same bytes
--   tags.algorithm           the algorithm the tag was pushed with, the one it answers in
--   manifest_absent          references of a sparse manifest to content not yet in the repository

ALTER TABLE manifests ADD COLUMN digest_sha512 text COLLATE "C";
ALTER TABLE tags ADD COLUMN algorithm text NOT NULL DEFAULT 'sha256' CHECK (algorithm IN ('sha256', 'sha512'));

UPDATE tags t SET algorithm = 'sha512' FROM manifests m WHERE m.id = t.manifest_id AND m.digest LIKE 'sha512:%';

-- Rows pushed by sha512 whose bytes also have a sha256 row are merged into it.
CREATE TEMP TABLE manifest_twins ON COMMIT DROP AS
  SELECT d.id AS dup, k.id AS keep, d.repository_id
  FROM manifests d
  JOIN manifests k ON k.repository_id = d.repository_id AND k.digest = 'sha256:' || encode(sha256(d.content), 'hex')
  WHERE d.digest LIKE 'sha512:%';

UPDATE manifests m SET refcount = m.refcount + s.n
FROM (SELECT tw.keep, count(*) AS n FROM tags t JOIN manifest_twins tw ON t.manifest_id = tw.dup GROUP BY tw.keep) s
WHERE m.id = s.keep;
UPDATE tags t SET manifest_id = tw.keep FROM manifest_twins tw WHERE t.manifest_id = tw.dup;

-- an index listing both names of one content keeps one edge to it
UPDATE manifests m SET refcount = m.refcount - s.n
FROM (SELECT tw.dup, count(*) AS n FROM manifest_children c JOIN manifest_twins tw ON c.child_id = tw.dup
      WHERE EXISTS (SELECT 1 FROM manifest_children c2 WHERE c2.parent_id = c.parent_id AND c2.child_id = tw.keep)
      GROUP BY tw.dup) s
WHERE m.id = s.dup;
DELETE FROM manifest_children c USING manifest_twins tw
WHERE c.child_id = tw.dup AND EXISTS (SELECT 1 FROM manifest_children c2 WHERE c2.parent_id = c.parent_id AND c2.child_id = tw.keep);
UPDATE manifests m SET refcount = m.refcount + s.n
FROM (SELECT tw.keep, count(*) AS n FROM manifest_children c JOIN manifest_twins tw ON c.child_id = tw.dup GROUP BY tw.keep) s
WHERE m.id = s.keep;
UPDATE manifests m SET refcount = m.refcount - s.n
FROM (SELECT tw.dup, count(*) AS n FROM manifest_children c JOIN manifest_twins tw ON c.child_id = tw.dup GROUP BY tw.dup) s
WHERE m.id = s.dup;
UPDATE manifest_children c SET child_id = tw.keep FROM manifest_twins tw WHERE c.child_id = tw.dup;

-- the duplicate's own references go with it
UPDATE repository_blobs rb SET refcount = rb.refcount - s.n
FROM (SELECT tw.repository_id, mb.blob_id, count(*) AS n FROM manifest_blobs mb JOIN manifest_twins tw ON mb.manifest_id = tw.dup
      GROUP BY tw.repository_id, mb.blob_id) s
WHERE rb.repository_id = s.repository_id AND rb.blob_id = s.blob_id;
UPDATE manifests m SET refcount = m.refcount - s.n
FROM (SELECT c.child_id, count(*) AS n FROM manifest_children c JOIN manifest_twins tw ON c.parent_id = tw.dup GROUP BY c.child_id) s
WHERE m.id = s.child_id;
DELETE FROM manifests m USING manifest_twins tw WHERE m.id = tw.dup;

UPDATE manifests SET digest_sha512 = digest, digest = 'sha256:' || encode(sha256(content), 'hex') WHERE digest LIKE 'sha512:%';
UPDATE manifests SET digest_sha512 = 'sha512:' || encode(sha512(content), 'hex') WHERE digest_sha512 IS NULL;
ALTER TABLE manifests ALTER COLUMN digest_sha512 SET NOT NULL;
ALTER TABLE manifests ADD CONSTRAINT manifests_repository_sha512 UNIQUE (repository_id, digest_sha512);

-- a referrer may name its subject by either digest
CREATE OR REPLACE FUNCTION gc_review_referrers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO gc_manifest_reviews (manifest_id)
  SELECT id FROM manifests
  WHERE repository_id = OLD.repository_id AND subject_digest IN (OLD.digest, OLD.digest_sha512) AND refcount = 0
  ON CONFLICT (manifest_id) DO UPDATE SET since = now();
  RETURN NULL;
END $$;

CREATE TABLE manifest_absent (
  manifest_id   bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  repository_id bigint NOT NULL REFERENCES repositories (id),
  digest        text COLLATE "C" NOT NULL,
  size          bigint NOT NULL CHECK (size >= 0),
  kind          text NOT NULL CHECK (kind IN ('blob', 'manifest')),
  PRIMARY KEY (manifest_id, digest)
);
CREATE INDEX manifest_absent_digest ON manifest_absent (repository_id, digest);
