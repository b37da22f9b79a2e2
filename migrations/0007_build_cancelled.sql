-- A build can end cancelled (`BuildCancelled`). SQLite cannot change a CHECK constraint, so the
-- builds table is rebuilt with the new status. build_steps references builds with ON DELETE
-- CASCADE, so it is set aside first: dropping builds while it exists would empty it.
CREATE TABLE build_steps_keep AS SELECT * FROM build_steps;
DROP TABLE build_steps;

CREATE TABLE builds_next (
  id           TEXT PRIMARY KEY,
  project_id   TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  status       TEXT NOT NULL CHECK (status IN ('requested', 'running', 'succeeded', 'failed', 'cancelled')),
  prompt       TEXT NOT NULL,
  version      INTEGER,
  error_step   TEXT,
  error_reason TEXT,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
INSERT INTO builds_next SELECT id, project_id, status, prompt, version, error_step, error_reason, created_at, updated_at FROM builds;
DROP TABLE builds;
ALTER TABLE builds_next RENAME TO builds;
CREATE INDEX builds_by_project ON builds(project_id, created_at);
-- The watchdog looks for unfinished builds by their last change.
CREATE INDEX builds_unfinished ON builds(status, updated_at);

CREATE TABLE build_steps (
  build_id    TEXT NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
  step        TEXT NOT NULL,
  attempt     INTEGER NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
  started_at  INTEGER NOT NULL,
  finished_at INTEGER,
  error       TEXT,
  PRIMARY KEY (build_id, step, attempt)
);
INSERT INTO build_steps SELECT build_id, step, attempt, status, started_at, finished_at, error FROM build_steps_keep;
DROP TABLE build_steps_keep;
