-- The timer sweep's claims (ADR 0013): a sweeper claims a due job at its version for a
-- lease, so sweepers on several nodes never fire the same deadline together. A claim is
-- on a version: once the job changes, the claim no longer holds it. Nullable columns
-- with no default: adding them rewrites nothing.
ALTER TABLE jobs ADD COLUMN claimed_version INTEGER;
ALTER TABLE jobs ADD COLUMN claimed_until TIMESTAMPTZ;
ALTER TABLE jobs ADD COLUMN claimed_by TEXT;
