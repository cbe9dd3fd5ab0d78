-- Fencing: every claim of a job raises its epoch, and every write of a run carries the epoch
-- it claimed, so a runner that was paused past a takeover writes nothing when it wakes.
ALTER TABLE jobs ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;

-- Artifacts keep their bytes in the database (one place for every kind of deployment).
-- Rows written before keep their file (path); new rows have no path, so the column becomes
-- nullable, which SQLite does by rebuilding the table.
CREATE TABLE artifacts_new (
    id         TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL,
    path       TEXT,
    mime_type  TEXT    NOT NULL,
    bytes      INTEGER NOT NULL,
    owner      TEXT    NOT NULL,
    page_url   TEXT,
    created_at INTEGER NOT NULL,
    content    BLOB
);
INSERT INTO artifacts_new (id, kind, path, mime_type, bytes, owner, page_url, created_at)
    SELECT id, kind, path, mime_type, bytes, owner, page_url, created_at FROM artifacts;
DROP TABLE artifacts;
ALTER TABLE artifacts_new RENAME TO artifacts;
CREATE INDEX artifacts_owner ON artifacts (owner, created_at);
