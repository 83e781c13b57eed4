-- The catalog lists repositories holding at least one manifest. Read with an
-- EXISTS per name, a page after the last listed repository walked every empty
-- repository behind it (bench/growth.ts: p99 0.25–0.5 s with 90 000 empty ones).
-- has_manifests is kept by the triggers below, and the catalog reads a partial
-- index of the listed names only.
--
-- The triggers rely on the lock order (docs/architecture.md, "The lock order"):
-- every insert or delete of a repository's manifests holds its repository row
-- first, so the delete trigger's EXISTS cannot miss a concurrent insert.
ALTER TABLE repositories ADD COLUMN has_manifests boolean NOT NULL DEFAULT false;
UPDATE repositories r SET has_manifests = true WHERE EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id);
CREATE INDEX repositories_listed ON repositories (name) WHERE has_manifests;

CREATE FUNCTION repositories_listed_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE repositories SET has_manifests = true WHERE id = NEW.repository_id AND NOT has_manifests;
  RETURN NULL;
END $$;

CREATE TRIGGER manifests_listed_insert AFTER INSERT ON manifests
  FOR EACH ROW EXECUTE FUNCTION repositories_listed_insert();

CREATE FUNCTION repositories_listed_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE repositories SET has_manifests = false
  WHERE id = OLD.repository_id AND has_manifests
    AND NOT EXISTS (SELECT 1 FROM manifests WHERE repository_id = OLD.repository_id);
  RETURN NULL;
END $$;

CREATE TRIGGER manifests_listed_delete AFTER DELETE ON manifests
  FOR EACH ROW EXECUTE FUNCTION repositories_listed_delete();
