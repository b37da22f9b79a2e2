-- Kiln platform schema: accounts, projects and chat, plus the build/deployment tables that the
-- pipeline fills. Times are milliseconds since the epoch (the JS clock).

CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  email         TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);

CREATE TABLE projects (
  id         TEXT PRIMARY KEY,
  owner_id   TEXT NOT NULL REFERENCES users(id),
  name       TEXT NOT NULL,
  slug       TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX projects_by_owner ON projects(owner_id, created_at);

CREATE TABLE messages (
  id         TEXT PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  role       TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
  content    TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX messages_by_project ON messages(project_id, created_at);

CREATE TABLE builds (
  id           TEXT PRIMARY KEY,
  project_id   TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  status       TEXT NOT NULL CHECK (status IN ('requested', 'running', 'succeeded', 'failed')),
  prompt       TEXT NOT NULL,
  version      INTEGER,
  error_step   TEXT,
  error_reason TEXT,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
CREATE INDEX builds_by_project ON builds(project_id, created_at);

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

CREATE TABLE deployments (
  id         TEXT PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  build_id   TEXT,
  version    INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX deployments_by_project ON deployments(project_id, created_at);
