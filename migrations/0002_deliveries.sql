-- Published events and their deliveries, with every attempt.

CREATE TABLE webhook_events (
  id               TEXT PRIMARY KEY,
  org_id           TEXT NOT NULL,
  type             TEXT NOT NULL,
  body             TEXT NOT NULL,       -- exactly as published; delivered byte for byte
  idempotency_key  TEXT,                -- cleared after 24 h by the scheduled job
  created_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX webhook_events_idempotency ON webhook_events(org_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX webhook_events_created ON webhook_events(created_at);

CREATE TABLE webhook_deliveries (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- paging snapshots and tie-breaks
  id              TEXT NOT NULL UNIQUE,
  org_id          TEXT NOT NULL,
  destination_id  TEXT NOT NULL,
  event_id        TEXT NOT NULL REFERENCES webhook_events(id),
  type            TEXT NOT NULL,
  state           TEXT NOT NULL,        -- pending | retrying | success | failed
  attempt_count   INTEGER NOT NULL DEFAULT 0,
  next_retry_at   INTEGER,              -- Unix ms of the next attempt while retrying
  dual_signed     INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_destination ON webhook_deliveries(destination_id, created_at);
CREATE INDEX webhook_deliveries_unsent ON webhook_deliveries(state, created_at) WHERE attempt_count = 0;

CREATE TABLE delivery_attempts (
  delivery_id   TEXT NOT NULL,
  attempt_no    INTEGER NOT NULL,
  attempted_at  INTEGER NOT NULL,       -- Unix ms when the request was sent
  status_code   INTEGER NOT NULL,       -- 0 when no HTTP answer came
  duration_ms   INTEGER NOT NULL,
  error         TEXT,
  dual_signed   INTEGER NOT NULL,
  PRIMARY KEY (delivery_id, attempt_no)
);
