-- Webhook endpoints and their delivery log (docs/adr/0017-webhook-delivery.md). Not projections:
-- an endpoint holds a signing secret, which never enters the event log, and deliveries are
-- operational records of the receiver's answers, not facts of the project. No foreign key to
-- `projects`: that table is a projection and may be dropped and rebuilt.
CREATE TABLE webhooks (
  id          TEXT PRIMARY KEY,
  project_id  TEXT NOT NULL,
  url         TEXT NOT NULL,
  events      TEXT NOT NULL,              -- space-separated callback types
  description TEXT NOT NULL DEFAULT '',
  enabled     INTEGER NOT NULL DEFAULT 1,
  disabled_reason TEXT,                   -- why deliveries stopped (a 410 from the receiver)
  secret      TEXT NOT NULL,              -- whsec_…: needed to sign, shown to the owner once
  origin      TEXT NOT NULL,              -- scheme://host:port the endpoint was created through (live app URLs)
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
-- The fan-out after every append asks this index once per project.
CREATE INDEX webhooks_by_project ON webhooks(project_id, enabled);

CREATE TABLE webhook_deliveries (
  id          TEXT PRIMARY KEY,
  webhook_id  TEXT NOT NULL,              -- the endpoint
  message_id  TEXT NOT NULL,              -- the `webhook-id` header, the same on every attempt
  event_type  TEXT NOT NULL,
  attempt     INTEGER NOT NULL,           -- 1, 2, …; redeliveries continue the count
  manual      INTEGER NOT NULL DEFAULT 0, -- 1 for a redelivery asked for through the API
  outcome     TEXT NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'disabled', 'dead')),
  status      INTEGER,                    -- the receiver's HTTP status, if it answered
  error       TEXT,                       -- what went wrong otherwise
  duration_ms INTEGER NOT NULL,
  body        TEXT NOT NULL,              -- the signed body, for redelivery
  created_at  INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries(webhook_id, created_at);
CREATE INDEX webhook_deliveries_by_message ON webhook_deliveries(message_id);
