-- The datacenter side looks jobs up by the tracking number of their delivery package and
-- by drive id, and lists jobs by state across subscriptions.
ALTER TABLE jobs ADD COLUMN tracking_key TEXT;
UPDATE jobs SET tracking_key = lower(doc -> 'deliveryPackage' ->> 'trackingNumber');
CREATE INDEX jobs_by_tracking ON jobs (tracking_key) WHERE tracking_key IS NOT NULL;
CREATE INDEX jobs_by_state ON jobs (state, seq);

CREATE TABLE job_drives (
  drive_key TEXT NOT NULL,
  job_uid TEXT NOT NULL REFERENCES jobs (uid) ON DELETE CASCADE,
  PRIMARY KEY (drive_key, job_uid)
);
CREATE INDEX job_drives_by_job ON job_drives (job_uid);
INSERT INTO job_drives (drive_key, job_uid)
  SELECT lower(d ->> 'driveId'), jobs.uid FROM jobs, json_array_elements(jobs.doc -> 'driveList') AS d
  ON CONFLICT DO NOTHING;
