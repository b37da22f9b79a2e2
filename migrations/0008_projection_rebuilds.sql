-- The projection rebuild is a chunked job (src/rebuild.rs): one row per rebuild with its cursor
-- (the stream being replayed and the last seq applied in it) and its progress.
CREATE TABLE projection_rebuilds (
  id            TEXT PRIMARY KEY,
  status        TEXT NOT NULL CHECK (status IN ('running', 'paused', 'done')),
  stream        TEXT,
  seq           INTEGER NOT NULL DEFAULT 0,
  streams_total INTEGER NOT NULL DEFAULT 0,
  streams_done  INTEGER NOT NULL DEFAULT 0,
  events        INTEGER NOT NULL DEFAULT 0,
  skipped       INTEGER NOT NULL DEFAULT 0,
  corrupt       TEXT NOT NULL DEFAULT '[]',
  chunks        INTEGER NOT NULL DEFAULT 0,
  chunk_size    INTEGER NOT NULL,
  stop_after    INTEGER,
  error         TEXT,
  started_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  finished_at   INTEGER
);
CREATE INDEX projection_rebuilds_by_start ON projection_rebuilds(started_at);
