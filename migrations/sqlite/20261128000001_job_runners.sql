-- Which process runs a job and when it last said so: a job whose runner stopped
-- heartbeating is taken over (after a crash, by the restarted server or another replica).
ALTER TABLE jobs ADD COLUMN runner TEXT;
ALTER TABLE jobs ADD COLUMN heartbeat_at INTEGER;

-- Discovery order inside a depth, so the frontier is breadth-first and deterministic.
ALTER TABLE frontier ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
DROP INDEX frontier_job_state;
CREATE INDEX frontier_job_state ON frontier (job_id, state, depth, seq);
