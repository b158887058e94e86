-- Jobs, their history and service settings. The job document holds every field of the
-- job; the columns beside it are what queries filter, order and compare-and-set on.
-- `json` (not `jsonb`) keeps the document as written: no rewrite on the way in or out,
-- and the caller's order of tags and address fields; the store never queries inside it.
CREATE TABLE jobs (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uid TEXT NOT NULL UNIQUE,
  subscription_key TEXT NOT NULL,
  resource_group_key TEXT NOT NULL,
  name_key TEXT NOT NULL,
  state TEXT NOT NULL,
  job_type TEXT NOT NULL,
  due_at TIMESTAMPTZ,
  version INTEGER NOT NULL,
  doc JSON NOT NULL,
  UNIQUE (subscription_key, resource_group_key, name_key)
);
-- A purged job's rows stay in the table files as dead rows until a vacuum reclaims them:
-- vacuum after 2 % of the rows changed instead of PostgreSQL's default 20 %, so purged
-- personal data does not linger (ADR 0007).
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.02);
CREATE INDEX jobs_by_subscription ON jobs (subscription_key, seq);
CREATE INDEX jobs_by_resource_group ON jobs (subscription_key, resource_group_key, seq);
CREATE INDEX jobs_by_subscription_state ON jobs (subscription_key, state, seq);
CREATE INDEX jobs_due ON jobs (due_at) WHERE due_at IS NOT NULL;

-- History goes with its job: the foreign key's cascade purges it in the job's own delete.
CREATE TABLE job_history (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_uid TEXT NOT NULL REFERENCES jobs (uid) ON DELETE CASCADE,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  event TEXT NOT NULL,
  from_state TEXT,
  to_state TEXT,
  reason TEXT NOT NULL
);
CREATE INDEX job_history_by_job ON job_history (job_uid, id);
ALTER TABLE job_history SET (autovacuum_vacuum_scale_factor = 0.02);

CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
