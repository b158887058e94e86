-- Jobs, their history and service settings. The job document holds every field of the
-- job; the columns beside it are what queries filter, order and compare-and-set on.
CREATE TABLE jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  uid TEXT NOT NULL UNIQUE,
  subscription_key TEXT NOT NULL,
  resource_group_key TEXT NOT NULL,
  name_key TEXT NOT NULL,
  state TEXT NOT NULL,
  job_type TEXT NOT NULL,
  due_at TEXT,
  version INTEGER NOT NULL,
  doc TEXT NOT NULL,
  UNIQUE (subscription_key, resource_group_key, name_key)
);
CREATE INDEX jobs_by_subscription ON jobs (subscription_key, seq);
CREATE INDEX jobs_by_resource_group ON jobs (subscription_key, resource_group_key, seq);
CREATE INDEX jobs_by_subscription_state ON jobs (subscription_key, state, seq);
CREATE INDEX jobs_due ON jobs (due_at) WHERE due_at IS NOT NULL;

CREATE TABLE job_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_uid TEXT NOT NULL,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  event TEXT NOT NULL,
  from_state TEXT,
  to_state TEXT,
  reason TEXT NOT NULL
);
CREATE INDEX job_history_by_job ON job_history (job_uid, id);

CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
