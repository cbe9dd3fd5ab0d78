-- Indexed repositories (issue 11): one row per repository source (host/owner/name@ref),
-- its files with their blob ids (so a new commit re-parses only changed files), and the
-- symbols found in them. The placeholder tables of the first schema held nothing.
DROP TABLE IF EXISTS symbols;
DROP TABLE IF EXISTS repositories;

CREATE TABLE repositories (
    source_id  BIGINT PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
    url        TEXT   NOT NULL,
    git_ref    TEXT   NOT NULL,
    commit_sha TEXT   NOT NULL,
    -- What was asked to be indexed (languages, tests, docs, file cap): another selection of
    -- the same commit is indexed again.
    selection  TEXT   NOT NULL DEFAULT '',
    languages  JSONB  NOT NULL DEFAULT '{}',
    indexed_at BIGINT NOT NULL
);

CREATE TABLE code_files (
    id        BIGSERIAL PRIMARY KEY,
    source_id BIGINT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    path      TEXT   NOT NULL,
    blob      TEXT   NOT NULL,
    language  TEXT   NOT NULL,
    module    TEXT   NOT NULL,
    imports   JSONB  NOT NULL DEFAULT '[]',
    content   TEXT   NOT NULL,
    UNIQUE (source_id, path)
);

CREATE TABLE symbols (
    id             BIGSERIAL PRIMARY KEY,
    file_id        BIGINT  NOT NULL REFERENCES code_files (id) ON DELETE CASCADE,
    source_id      BIGINT  NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    language       TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    qualified_name TEXT    NOT NULL,
    parent         TEXT,
    signature      TEXT    NOT NULL,
    params         JSONB   NOT NULL DEFAULT '[]',
    returns        TEXT,
    doc            TEXT,
    exported       BOOLEAN NOT NULL,
    start_line     INTEGER NOT NULL,
    end_line       INTEGER NOT NULL,
    -- The name and qualified name cut into words (run_stream, runStream: "run stream").
    terms          TEXT    NOT NULL,
    -- Names weigh most, then signatures, then docs.
    tsv            tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', terms), 'A')
        || setweight(to_tsvector('simple', signature), 'B')
        || setweight(to_tsvector('simple', COALESCE(doc, '')), 'C')
    ) STORED
);
CREATE INDEX symbols_file ON symbols (file_id);
CREATE INDEX symbols_parent ON symbols (source_id, parent);
CREATE INDEX symbols_name ON symbols (name);
CREATE INDEX symbols_tsv ON symbols USING GIN (tsv);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE code_files ALTER COLUMN content SET COMPRESSION lz4;
    END IF;
END
$$;

-- A job's outcome beyond its counters (an index_repos job's per-repository results).
ALTER TABLE jobs ADD COLUMN result JSONB;
