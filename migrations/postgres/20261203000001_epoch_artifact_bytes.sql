-- Fencing: every claim of a job raises its epoch, and every write of a run carries the epoch
-- it claimed, so a runner that was paused past a takeover writes nothing when it wakes.
ALTER TABLE jobs ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;

-- Artifacts keep their bytes in the database, so every replica can read them. Rows written
-- before keep their file (path); new rows have no path.
ALTER TABLE artifacts ADD COLUMN content BYTEA;
ALTER TABLE artifacts ALTER COLUMN path DROP NOT NULL;
-- PNG, JPEG and PDF are compressed already: store them as they are.
ALTER TABLE artifacts ALTER COLUMN content SET STORAGE EXTERNAL;
