-- Upload leases name the process that holds them: each `bollard serve` holds a
-- session-level advisory lock (class 0x6c656173, "leas"; key = its holder id) on
-- its change-listener connection for as long as it runs. A lease whose holder's
-- lock is gone (the process was killed, or lost its database connection and
-- stopped its writers) is free at once, instead of after lease_until.
--
-- interrupted_at marks a session whose last request was cut off (the client
-- went away mid-body): unless it is resumed within the resume window
-- (BOLLARD_UPLOAD_RESUME_WINDOW), it gives its bytes back long before a session
-- that is merely idle between chunks (BOLLARD_UPLOAD_EXPIRY).
ALTER TABLE upload_sessions
  ADD COLUMN lease_holder integer,
  ADD COLUMN interrupted_at timestamptz;
CREATE INDEX upload_sessions_interrupted ON upload_sessions (interrupted_at) WHERE interrupted_at IS NOT NULL;
