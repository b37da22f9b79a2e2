-- Idempotency-Key records (docs/adr/0016-idempotency-keys.md): the first answer to a POST that
-- creates something, kept 24 hours per caller and key, so a retried request gets the same answer.
-- `fingerprint` is the sha256 of the method, path and body: the same key with another request is
-- refused. `status` is NULL while the first request is still running.
CREATE TABLE idempotency_keys (
  scope       TEXT NOT NULL,      -- sha256 of the caller's credential
  key         TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  status      INTEGER,
  body        TEXT,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys(created_at);
