-- Page and chunk text is compressed with lz4 instead of pglz where the server supports it
-- (PostgreSQL 14+ built with lz4, as Debian's and the official images are): several times
-- faster to write, which matters when a crawl stores hundreds of pages a second. Servers
-- without lz4 keep pglz. Only newly written values are affected.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE pages ALTER COLUMN markdown SET COMPRESSION lz4;
        ALTER TABLE chunks ALTER COLUMN text SET COMPRESSION lz4;
        ALTER TABLE chunks ALTER COLUMN tsv SET COMPRESSION lz4;
        ALTER TABLE code_blocks ALTER COLUMN code SET COMPRESSION lz4;
        ALTER TABLE code_blocks ALTER COLUMN tsv SET COMPRESSION lz4;
    END IF;
END
$$;
