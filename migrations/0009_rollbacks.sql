-- Rollbacks, projected from RollbackRequested / RolledBack / RollbackFailed, so the stall watchdog
-- can find a pending rollback that made no progress without reading every project's log
-- (docs/adr/0018-cancel-and-watchdog.md). v1 rollbacks had no id and are not projected.
CREATE TABLE rollbacks (
  id         TEXT PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  to_version INTEGER NOT NULL,
  status     TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  reason     TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX rollbacks_pending ON rollbacks (status, updated_at);
