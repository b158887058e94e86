-- Per-blob progress of drive imports, so a restarted engine resumes where it stopped and
-- never writes a blob twice or renames a blob it wrote itself.
CREATE TABLE import_blobs (
  job_uid TEXT NOT NULL REFERENCES jobs (uid) ON DELETE CASCADE,
  drive_key TEXT NOT NULL,
  blob_key TEXT NOT NULL,
  status TEXT NOT NULL,
  final_path TEXT,
  record JSON NOT NULL,
  PRIMARY KEY (job_uid, drive_key, blob_key)
);
