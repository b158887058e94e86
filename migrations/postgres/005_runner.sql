-- One row per drive a transfer runner has claimed (issue 12 items 3 and 4): who holds it,
-- the claim's token (one more with every claim; writes fenced by a lease check it) and
-- until when the lease runs, whether the copy finished, and the drive's own progress, so
-- drives do not all write one job row for it. Rows go with their job (cascade).
CREATE TABLE drive_runs (
  job_uid TEXT NOT NULL REFERENCES jobs (uid) ON DELETE CASCADE,
  drive_key TEXT NOT NULL,
  owner TEXT,
  token INTEGER NOT NULL DEFAULT 0,
  lease_until TIMESTAMPTZ,
  finished BOOLEAN NOT NULL DEFAULT false,
  bytes_done BIGINT NOT NULL DEFAULT 0,
  bytes_total BIGINT,
  -- When the drive was first claimed: a copier resuming it treats what it finds at the
  -- endpoint written since then as possibly its own (records committed without waiting
  -- for the disk may be lost with a power cut).
  started_at TIMESTAMPTZ,
  PRIMARY KEY (job_uid, drive_key)
);
