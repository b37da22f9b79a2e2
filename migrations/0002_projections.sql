-- Projections are rebuilt from the event log; `last_seq` makes each projection update idempotent
-- and order-safe when appends for one project are applied concurrently.
ALTER TABLE projects ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
