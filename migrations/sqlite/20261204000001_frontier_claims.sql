-- Several runs (replicas) work one job: a run claims a batch of queued URLs at a time. A
-- claimed URL names its run (claimed_by); the run's lease lives in frontier_claimants,
-- renewed by its heartbeat (one row per run, so renewing never locks frontier rows). A URL
-- whose run's lease lapsed (the run died) is claimed again by whoever asks next, and a
-- settle only lands while the URL is still its run's.
ALTER TABLE frontier ADD COLUMN claimed_by TEXT;

CREATE TABLE frontier_claimants (
    claimant    TEXT   PRIMARY KEY,
    job_id      TEXT   NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    lease_until INTEGER NOT NULL
);
CREATE INDEX frontier_claimants_job ON frontier_claimants (job_id);
