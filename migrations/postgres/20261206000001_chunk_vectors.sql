-- Vectors of chunks for semantic search (issue 13): little-endian f32, written by the
-- background embedder. `id` grows with every write, so replicas load new vectors
-- incrementally; `model` names what made the vector (another configured model re-embeds).
CREATE TABLE chunk_vectors (
    id       BIGSERIAL PRIMARY KEY,
    chunk_id BIGINT NOT NULL UNIQUE REFERENCES chunks (id) ON DELETE CASCADE,
    model    TEXT   NOT NULL,
    vector   BYTEA  NOT NULL
);
