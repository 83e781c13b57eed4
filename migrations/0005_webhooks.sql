-- The event journal's read cursor and the webhook outbox.
--
-- events.xid: the top-level transaction that appended the event. Readers of the
-- journal only return events whose transaction is older than every transaction
-- still in progress (see src/db/events.ts), so a cursor never skips an event
-- that commits after a later-numbered one was read. Rows that exist when this
-- runs get this migration's xid, which is committed before anyone reads them.
ALTER TABLE events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX events_xid ON events (xid, id);
CREATE INDEX events_repository_xid ON events (repository, xid, id);

CREATE TABLE webhook_endpoints (
  id               bigserial PRIMARY KEY,
  url              text NOT NULL,
  -- the HMAC key of the Bollard-Signature header
  secret           text NOT NULL,
  -- NULL: every repository; otherwise the glob as given and the regex the trigger matches
  repository_glob  text,
  repository_regex text,
  -- NULL: every kind of event
  kinds            text[],
  enabled          boolean NOT NULL DEFAULT true,
  created_at       timestamptz NOT NULL DEFAULT now(),
  CHECK ((repository_glob IS NULL) = (repository_regex IS NULL))
);

-- One row per (endpoint, event) to send, written by the trigger below in the
-- transaction that appends the event: committed together or not at all.
CREATE TABLE webhook_outbox (
  id              bigserial PRIMARY KEY,
  endpoint_id     bigint NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  event_id        bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  -- '' for events without a repository; delivery order is kept per (endpoint, repository)
  repository      text COLLATE "C" NOT NULL,
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- a worker holds the lease while it sends; an expired lease is claimable again
  lease_token     uuid,
  lease_until     timestamptz,
  last_error      text,
  delivered_at    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now()
);
-- The undelivered scan reads only this small index, whatever the delivered history.
CREATE INDEX webhook_outbox_pending ON webhook_outbox (endpoint_id, repository, id) WHERE delivered_at IS NULL;
CREATE INDEX webhook_outbox_event ON webhook_outbox (event_id);

CREATE FUNCTION webhook_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO webhook_outbox (endpoint_id, event_id, repository)
  SELECT w.id, NEW.id, coalesce(NEW.repository, '')
  FROM webhook_endpoints w
  WHERE w.enabled
    AND (w.repository_regex IS NULL OR coalesce(NEW.repository, '') ~ w.repository_regex)
    AND (w.kinds IS NULL OR NEW.kind = ANY (w.kinds));
  RETURN NULL;
END
$$;

CREATE TRIGGER events_webhook_enqueue AFTER INSERT ON events
  FOR EACH ROW EXECUTE FUNCTION webhook_enqueue();
