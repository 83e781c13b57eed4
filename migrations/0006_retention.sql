-- Retention policies and immutable tags (issue 5).
--
-- Repository globs follow src/auth/glob.ts (`*` within one path component, `**`
-- across them). Regexes (keep_regex, tag_pattern) are JavaScript regexes matched
-- against the whole tag; they are validated by the CLI before they are stored.

-- One policy per glob. When several globs match a repository, the most specific
-- one applies alone (src/registry/retention/policy.ts defines the order).
CREATE TABLE retention_policies (
  id                     bigserial PRIMARY KEY,
  repository_glob        text COLLATE "C" NOT NULL UNIQUE CHECK (repository_glob ~ '^[a-z0-9._/*?-]{1,255}$'),
  -- NULL: tags are never deleted by count
  keep_last              integer CHECK (keep_last >= 0),
  -- NULL: no tag is kept by name
  keep_regex             text CHECK (length(keep_regex) BETWEEN 1 AND 1000),
  -- NULL: untagged manifests are kept
  untagged_delay_seconds bigint CHECK (untagged_delay_seconds >= 0),
  created_at             timestamptz NOT NULL DEFAULT now(),
  CHECK (keep_last IS NOT NULL OR untagged_delay_seconds IS NOT NULL)
);

-- A tag matching tag_pattern in a repository matching repository_glob cannot be
-- moved to another manifest nor deleted. Rules add up: any matching rule protects.
CREATE TABLE immutable_tags (
  id              bigserial PRIMARY KEY,
  repository_glob text COLLATE "C" NOT NULL CHECK (repository_glob ~ '^[a-z0-9._/*?-]{1,255}$'),
  tag_pattern     text COLLATE "C" NOT NULL CHECK (length(tag_pattern) BETWEEN 1 AND 1000),
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (repository_glob, tag_pattern)
);

-- When a manifest lost its last reference (tag or parent index), so the delay of
-- "delete untagged manifests after" counts from then, not from the push: a
-- manifest untagged a minute ago is not collected because it was pushed a year
-- ago. NULL while referenced. A trigger keeps it, so no query has to.
ALTER TABLE manifests ADD COLUMN unreferenced_since timestamptz;
UPDATE manifests SET unreferenced_since = created_at WHERE refcount = 0;

CREATE FUNCTION manifests_track_unreferenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.refcount > 0 THEN
    NEW.unreferenced_since := NULL;
  ELSIF TG_OP = 'INSERT' OR OLD.refcount > 0 THEN
    NEW.unreferenced_since := now();
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER manifests_track_unreferenced
  BEFORE INSERT OR UPDATE OF refcount ON manifests
  FOR EACH ROW EXECUTE FUNCTION manifests_track_unreferenced();

CREATE INDEX manifests_unreferenced ON manifests (repository_id, unreferenced_since)
  WHERE unreferenced_since IS NOT NULL;
