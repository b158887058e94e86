-- A setting named `<anything>:<job uid>` belongs to that job and goes when it is purged
-- (JobStore.getSetting). The uid is kept as a key of its own, indexed, so a purge finds the
-- job's settings by key instead of comparing the end of every setting's name. The column is
-- computed from the name (the text after the last colon: rtrim strips every character but
-- ':' from the right, leaving the prefix), so rows written before this migration, and rows
-- that nodes not yet upgraded write, carry it too. SQLite adds only VIRTUAL generated
-- columns to an existing table; the index stores the values.
ALTER TABLE settings ADD COLUMN job_uid TEXT GENERATED ALWAYS AS (
  CASE WHEN instr(name, ':') > 0
    THEN nullif(substr(name, length(rtrim(name, replace(name, ':', ''))) + 1), '')
  END
) VIRTUAL;
CREATE INDEX settings_job_uid ON settings (job_uid);
