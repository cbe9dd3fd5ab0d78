-- Crawlium schema, PostgreSQL dialect. Times are Unix epoch milliseconds (BIGINT) so both
-- backends share one row shape; JSON is JSONB; full text is tsvector + GIN ('english' for
-- prose, 'simple' for code and symbols, where stemming would mangle identifiers).

CREATE TABLE sources (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT   NOT NULL CHECK (kind IN ('site', 'repository')),
    name            TEXT   NOT NULL UNIQUE,
    url             TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    last_crawled_at BIGINT
);

CREATE TABLE jobs (
    id          TEXT   PRIMARY KEY,
    kind        TEXT   NOT NULL,
    params      JSONB  NOT NULL DEFAULT '{}',
    owner       TEXT   NOT NULL,
    status      TEXT   NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress    JSONB  NOT NULL DEFAULT '{}',
    stats       JSONB  NOT NULL DEFAULT '{}',
    errors      JSONB  NOT NULL DEFAULT '[]',
    source_id   BIGINT REFERENCES sources (id) ON DELETE SET NULL,
    created_at  BIGINT NOT NULL,
    started_at  BIGINT,
    finished_at BIGINT,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX jobs_owner_status ON jobs (owner, status, created_at);
CREATE INDEX jobs_status ON jobs (status, updated_at);

CREATE TABLE pages (
    id           BIGSERIAL PRIMARY KEY,
    source_id    BIGINT  NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    url          TEXT    NOT NULL UNIQUE,
    final_url    TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    title        TEXT,
    description  TEXT,
    language     TEXT,
    markdown     TEXT    NOT NULL,
    content_hash TEXT    NOT NULL,
    fetched_at   BIGINT  NOT NULL,
    job_id       TEXT    REFERENCES jobs (id) ON DELETE SET NULL
);
CREATE INDEX pages_source ON pages (source_id);
CREATE INDEX pages_job ON pages (job_id);

CREATE TABLE chunks (
    id           BIGSERIAL PRIMARY KEY,
    page_id      BIGINT  NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    heading_path TEXT    NOT NULL,
    text         TEXT    NOT NULL,
    tsv          tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', heading_path), 'A') || to_tsvector('english', text)
    ) STORED,
    UNIQUE (page_id, position)
);
CREATE INDEX chunks_tsv ON chunks USING GIN (tsv);

CREATE TABLE code_blocks (
    id       BIGSERIAL PRIMARY KEY,
    page_id  BIGINT  NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    language TEXT,
    code     TEXT    NOT NULL,
    context  TEXT    NOT NULL DEFAULT '',
    tsv      tsvector GENERATED ALWAYS AS (to_tsvector('simple', code || ' ' || context)) STORED,
    UNIQUE (page_id, position)
);
CREATE INDEX code_blocks_language ON code_blocks (language);
CREATE INDEX code_blocks_tsv ON code_blocks USING GIN (tsv);

CREATE TABLE frontier (
    job_id     TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    url        TEXT    NOT NULL,
    depth      INTEGER NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('queued', 'in_flight', 'done', 'failed', 'skipped')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (job_id, url)
);
CREATE INDEX frontier_job_state ON frontier (job_id, state, depth);

CREATE TABLE repositories (
    id             BIGSERIAL PRIMARY KEY,
    source_id      BIGINT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    url            TEXT   NOT NULL UNIQUE,
    default_branch TEXT,
    commit_sha     TEXT,
    indexed_at     BIGINT
);

CREATE TABLE symbols (
    id            BIGSERIAL PRIMARY KEY,
    repository_id BIGINT  NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    path          TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    language      TEXT    NOT NULL,
    line          INTEGER NOT NULL,
    signature     TEXT    NOT NULL DEFAULT '',
    doc           TEXT    NOT NULL DEFAULT '',
    tsv           tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', name), 'A') || to_tsvector('simple', signature || ' ' || doc)
    ) STORED
);
CREATE INDEX symbols_repository ON symbols (repository_id, path);
CREATE INDEX symbols_tsv ON symbols USING GIN (tsv);

CREATE TABLE artifacts (
    id         TEXT   PRIMARY KEY,
    kind       TEXT   NOT NULL,
    path       TEXT   NOT NULL,
    mime_type  TEXT   NOT NULL,
    bytes      BIGINT NOT NULL,
    owner      TEXT   NOT NULL,
    page_url   TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX artifacts_owner ON artifacts (owner, created_at);
