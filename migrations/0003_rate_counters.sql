-- Rate-limit counters (see docs/adr/0012-platform-rate-limits.md): one row per key (`auth:ip:…`,
-- `auth:email:…`, `builds:user:…`) holding the hits of its open window and when that window
-- closes (ms since the epoch). Not a projection: no event describes it and a rebuild leaves it
-- alone. Rows of closed windows are pruned a few at a time by later hits, by `resets_at`.
CREATE TABLE rate_counters (
  key       TEXT PRIMARY KEY,
  count     INTEGER NOT NULL,
  resets_at INTEGER NOT NULL
);
CREATE INDEX rate_counters_by_reset ON rate_counters(resets_at);
