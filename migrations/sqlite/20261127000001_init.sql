-- Crawlium schema, SQLite dialect. Times are Unix epoch milliseconds; JSON is TEXT.

CREATE TABLE sources (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('site', 'repository')),
    name            TEXT    NOT NULL UNIQUE,
    url             TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    last_crawled_at INTEGER
);

CREATE TABLE jobs (
    id          TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL,
    params      TEXT    NOT NULL DEFAULT '{}',
    owner       TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress    TEXT    NOT NULL DEFAULT '{}',
    stats       TEXT    NOT NULL DEFAULT '{}',
    errors      TEXT    NOT NULL DEFAULT '[]',
    source_id   INTEGER REFERENCES sources (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX jobs_owner_status ON jobs (owner, status, created_at);
CREATE INDEX jobs_status ON jobs (status, updated_at);

CREATE TABLE pages (
    id           INTEGER PRIMARY KEY,
    source_id    INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    url          TEXT    NOT NULL UNIQUE,
    final_url    TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    title        TEXT,
    description  TEXT,
    language     TEXT,
    markdown     TEXT    NOT NULL,
    content_hash TEXT    NOT NULL,
    fetched_at   INTEGER NOT NULL,
    job_id       TEXT    REFERENCES jobs (id) ON DELETE SET NULL
);
CREATE INDEX pages_source ON pages (source_id);
CREATE INDEX pages_job ON pages (job_id);

-- AUTOINCREMENT: ids are never reused, so a chunk id names one stored version of a text.
CREATE TABLE chunks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    page_id      INTEGER NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    heading_path TEXT    NOT NULL,
    text         TEXT    NOT NULL,
    UNIQUE (page_id, position)
);
CREATE VIRTUAL TABLE chunks_fts USING fts5 (
    text, heading_path, content = 'chunks', content_rowid = 'id', tokenize = 'porter unicode61'
);
-- `rank` is BM25 with the heading path weighted double.
INSERT INTO chunks_fts (chunks_fts, rank) VALUES ('rank', 'bm25(1.0, 2.0)');
CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, text, heading_path) VALUES (new.id, new.text, new.heading_path);
END;
CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, text, heading_path)
    VALUES ('delete', old.id, old.text, old.heading_path);
END;
CREATE TRIGGER chunks_au AFTER UPDATE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, text, heading_path)
    VALUES ('delete', old.id, old.text, old.heading_path);
    INSERT INTO chunks_fts (rowid, text, heading_path) VALUES (new.id, new.text, new.heading_path);
END;

CREATE TABLE code_blocks (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    page_id  INTEGER NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    language TEXT,
    code     TEXT    NOT NULL,
    context  TEXT    NOT NULL DEFAULT '',
    UNIQUE (page_id, position)
);
CREATE INDEX code_blocks_language ON code_blocks (language);
CREATE VIRTUAL TABLE code_fts USING fts5 (
    code, context, content = 'code_blocks', content_rowid = 'id',
    tokenize = "unicode61 tokenchars '_'"
);
CREATE TRIGGER code_ai AFTER INSERT ON code_blocks BEGIN
    INSERT INTO code_fts (rowid, code, context) VALUES (new.id, new.code, new.context);
END;
CREATE TRIGGER code_ad AFTER DELETE ON code_blocks BEGIN
    INSERT INTO code_fts (code_fts, rowid, code, context) VALUES ('delete', old.id, old.code, old.context);
END;
CREATE TRIGGER code_au AFTER UPDATE ON code_blocks BEGIN
    INSERT INTO code_fts (code_fts, rowid, code, context) VALUES ('delete', old.id, old.code, old.context);
    INSERT INTO code_fts (rowid, code, context) VALUES (new.id, new.code, new.context);
END;

CREATE TABLE frontier (
    job_id     TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    url        TEXT    NOT NULL,
    depth      INTEGER NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('queued', 'in_flight', 'done', 'failed', 'skipped')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (job_id, url)
);
CREATE INDEX frontier_job_state ON frontier (job_id, state, depth);

CREATE TABLE repositories (
    id             INTEGER PRIMARY KEY,
    source_id      INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    url            TEXT    NOT NULL UNIQUE,
    default_branch TEXT,
    commit_sha     TEXT,
    indexed_at     INTEGER
);

CREATE TABLE symbols (
    id            INTEGER PRIMARY KEY,
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    path          TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    language      TEXT    NOT NULL,
    line          INTEGER NOT NULL,
    signature     TEXT    NOT NULL DEFAULT '',
    doc           TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX symbols_repository ON symbols (repository_id, path);
CREATE VIRTUAL TABLE symbols_fts USING fts5 (
    name, signature, doc, content = 'symbols', content_rowid = 'id',
    tokenize = "unicode61 tokenchars '_'"
);
CREATE TRIGGER symbols_ai AFTER INSERT ON symbols BEGIN
    INSERT INTO symbols_fts (rowid, name, signature, doc) VALUES (new.id, new.name, new.signature, new.doc);
END;
CREATE TRIGGER symbols_ad AFTER DELETE ON symbols BEGIN
    INSERT INTO symbols_fts (symbols_fts, rowid, name, signature, doc)
    VALUES ('delete', old.id, old.name, old.signature, old.doc);
END;
CREATE TRIGGER symbols_au AFTER UPDATE ON symbols BEGIN
    INSERT INTO symbols_fts (symbols_fts, rowid, name, signature, doc)
    VALUES ('delete', old.id, old.name, old.signature, old.doc);
    INSERT INTO symbols_fts (rowid, name, signature, doc) VALUES (new.id, new.name, new.signature, new.doc);
END;

CREATE TABLE artifacts (
    id         TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    mime_type  TEXT    NOT NULL,
    bytes      INTEGER NOT NULL,
    owner      TEXT    NOT NULL,
    page_url   TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX artifacts_owner ON artifacts (owner, created_at);
