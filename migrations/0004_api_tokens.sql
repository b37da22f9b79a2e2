-- API tokens for programs (CI jobs, other services): `Authorization: Bearer kiln_…`. Only the
-- sha256 of a token is stored; the token itself is shown once, when it is created. Not a
-- projection: tokens are credentials, not facts of a project, and never enter the event log.
CREATE TABLE api_tokens (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users(id),
  name         TEXT NOT NULL,
  scopes       TEXT NOT NULL,           -- space-separated: "read", "read write"
  token_hash   TEXT NOT NULL UNIQUE,    -- hex sha256 of the whole token
  hint         TEXT NOT NULL,           -- the token's last four characters, to tell tokens apart
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER,                 -- ms; NULL = no expiry
  last_used_at INTEGER
);
CREATE INDEX api_tokens_by_user ON api_tokens(user_id, created_at);
