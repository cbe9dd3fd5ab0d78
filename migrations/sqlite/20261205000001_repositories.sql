-- Indexed repositories (issue 11): one row per repository source (host/owner/name@ref),
-- its files with their blob ids (so a new commit re-parses only changed files), and the
-- symbols found in them. The placeholder tables of the first schema held nothing.
DROP TRIGGER IF EXISTS symbols_ai;
DROP TRIGGER IF EXISTS symbols_ad;
DROP TRIGGER IF EXISTS symbols_au;
DROP TABLE IF EXISTS symbols_fts;
DROP TABLE IF EXISTS symbols;
DROP TABLE IF EXISTS repositories;

CREATE TABLE repositories (
    source_id  INTEGER PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
    url        TEXT    NOT NULL,
    git_ref    TEXT    NOT NULL,
    commit_sha TEXT    NOT NULL,
    -- What was asked to be indexed (languages, tests, docs, file cap): another selection of
    -- the same commit is indexed again.
    selection  TEXT    NOT NULL DEFAULT '',
    languages  TEXT    NOT NULL DEFAULT '{}',
    indexed_at INTEGER NOT NULL
);

CREATE TABLE code_files (
    id        INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    path      TEXT    NOT NULL,
    blob      TEXT    NOT NULL,
    language  TEXT    NOT NULL,
    module    TEXT    NOT NULL,
    imports   TEXT    NOT NULL DEFAULT '[]',
    content   TEXT    NOT NULL,
    UNIQUE (source_id, path)
);

-- AUTOINCREMENT: a symbol id names one stored version of a definition.
CREATE TABLE symbols (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id        INTEGER NOT NULL REFERENCES code_files (id) ON DELETE CASCADE,
    source_id      INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    language       TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    qualified_name TEXT    NOT NULL,
    parent         TEXT,
    signature      TEXT    NOT NULL,
    params         TEXT    NOT NULL DEFAULT '[]',
    returns        TEXT,
    doc            TEXT,
    exported       INTEGER NOT NULL,
    start_line     INTEGER NOT NULL,
    end_line       INTEGER NOT NULL,
    -- The name and qualified name cut into words (run_stream, runStream: "run stream").
    terms          TEXT    NOT NULL
);
CREATE INDEX symbols_file ON symbols (file_id);
CREATE INDEX symbols_parent ON symbols (source_id, parent);
CREATE INDEX symbols_name ON symbols (name);
CREATE VIRTUAL TABLE symbols_fts USING fts5 (
    terms, signature, doc, content = 'symbols', content_rowid = 'id',
    tokenize = 'unicode61'
);
-- Names weigh most, then signatures, then docs.
INSERT INTO symbols_fts (symbols_fts, rank) VALUES ('rank', 'bm25(4.0, 2.0, 1.0)');
CREATE TRIGGER symbols_ai AFTER INSERT ON symbols BEGIN
    INSERT INTO symbols_fts (rowid, terms, signature, doc)
    VALUES (new.id, new.terms, new.signature, COALESCE(new.doc, ''));
END;
CREATE TRIGGER symbols_ad AFTER DELETE ON symbols BEGIN
    INSERT INTO symbols_fts (symbols_fts, rowid, terms, signature, doc)
    VALUES ('delete', old.id, old.terms, old.signature, COALESCE(old.doc, ''));
END;

-- A job's outcome beyond its counters (an index_repos job's per-repository results).
ALTER TABLE jobs ADD COLUMN result TEXT;
