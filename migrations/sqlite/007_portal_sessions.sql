-- Portal sign-in sessions (issue 10, ADR 0014), customer and operator, kept in the store
-- so they survive a restart and every node of a deployment knows them. A row is found by
-- the SHA-256 of the session id (hex): the cookie carries the id itself, the store never
-- does, so a copy of the database signs nobody in. `data` is what the session needs (JSON);
-- times are ms since the epoch on the real clock (never the service clock's offset).
CREATE TABLE portal_sessions (
  id_hash TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);
