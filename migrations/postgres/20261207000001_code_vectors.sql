-- Vectors of code blocks and repository symbols for semantic search_code (issue 13), as
-- chunk_vectors holds those of chunks: little-endian f32, `id` growing with every write.
CREATE TABLE code_block_vectors (
    id            BIGSERIAL PRIMARY KEY,
    code_block_id BIGINT NOT NULL UNIQUE REFERENCES code_blocks (id) ON DELETE CASCADE,
    model         TEXT   NOT NULL,
    vector        BYTEA  NOT NULL
);
CREATE TABLE symbol_vectors (
    id        BIGSERIAL PRIMARY KEY,
    symbol_id BIGINT NOT NULL UNIQUE REFERENCES symbols (id) ON DELETE CASCADE,
    model     TEXT   NOT NULL,
    vector    BYTEA  NOT NULL
);
