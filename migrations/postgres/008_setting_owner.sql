-- A setting named `<anything>:<job uid>` belongs to that job and goes when it is purged
-- (JobStore.getSetting). The uid is kept as a key of its own, indexed, so a purge finds the
-- job's settings by key instead of comparing the end of every setting's name. The column is
-- computed from the name (the text after the last colon), so rows written before this
-- migration, and rows that nodes not yet upgraded write, carry it too.
ALTER TABLE settings ADD COLUMN job_uid TEXT
  GENERATED ALWAYS AS (nullif(substring(name from ':([^:]*)$'), '')) STORED;
CREATE INDEX settings_job_uid ON settings (job_uid);
