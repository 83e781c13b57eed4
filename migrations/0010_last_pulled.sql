-- Eviction by last pull (issue 18): a retention rule that deletes what nobody pulls.
--
-- last_pulled_at is written in batches by each serving process (src/registry/content/pulls.ts),
-- never per request, and only moves forward (greatest), so replicas flushing in any order agree.
-- A GET of a manifest by tag or digest counts; HEAD does not (as on Docker Hub). A pull of an
-- index's child also counts for the indexes that list it. NULL: never pulled since this migration.
ALTER TABLE manifests ADD COLUMN last_pulled_at timestamptz;

-- NULL: tags and manifests are never deleted for not being pulled. Otherwise a tag whose manifest was
-- neither pulled nor (the tag) pushed for this many seconds goes, unless another rule of the policy
-- keeps it, and then a manifest left untagged and unpulled as long.
ALTER TABLE retention_policies ADD COLUMN unpulled_delay_seconds bigint CHECK (unpulled_delay_seconds >= 0);
ALTER TABLE retention_policies DROP CONSTRAINT retention_policies_check;
ALTER TABLE retention_policies ADD CONSTRAINT retention_policies_some_rule
  CHECK (keep_last IS NOT NULL OR untagged_delay_seconds IS NOT NULL OR unpulled_delay_seconds IS NOT NULL);
