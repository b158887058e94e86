-- The datacenter side looks jobs up by the tracking number of their delivery package and
-- by drive id, and lists jobs by state across subscriptions.
ALTER TABLE jobs ADD COLUMN tracking_key TEXT;
UPDATE jobs SET tracking_key = lower(json_extract(doc, '$.deliveryPackage.trackingNumber'));
CREATE INDEX jobs_by_tracking ON jobs (tracking_key) WHERE tracking_key IS NOT NULL;
CREATE INDEX jobs_by_state ON jobs (state, seq);

CREATE TABLE job_drives (
  drive_key TEXT NOT NULL,
  job_uid TEXT NOT NULL,
  PRIMARY KEY (drive_key, job_uid)
) WITHOUT ROWID;
CREATE INDEX job_drives_by_job ON job_drives (job_uid);
INSERT OR IGNORE INTO job_drives (drive_key, job_uid)
  SELECT lower(json_extract(d.value, '$.driveId')), jobs.uid FROM jobs, json_each(jobs.doc, '$.driveList') AS d;
