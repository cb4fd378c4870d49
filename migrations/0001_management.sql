-- Organizations, their users and API keys, and webhook destinations.
-- Secrets of destinations are not here: each destination's Durable Object holds them.

CREATE TABLE organizations (
  id         TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
);

CREATE TABLE users (
  org_id      TEXT NOT NULL REFERENCES organizations(id),
  id          TEXT NOT NULL,
  permissions TEXT NOT NULL,           -- JSON array of permission names
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (org_id, id)
);

CREATE TABLE api_keys (
  id                  TEXT PRIMARY KEY,
  org_id              TEXT NOT NULL,
  user_id             TEXT NOT NULL,
  key_hash            TEXT NOT NULL,   -- SHA-256 hex of the key; the key itself is never stored
  expires_at          INTEGER,         -- Unix ms; NULL never expires
  expiry_notified_at  INTEGER,         -- when api-key-expiration-soon was emitted
  created_at          INTEGER NOT NULL,
  FOREIGN KEY (org_id, user_id) REFERENCES users(org_id, id)
);
CREATE INDEX api_keys_expiry ON api_keys(expires_at) WHERE expiry_notified_at IS NULL;

CREATE TABLE webhook_destinations (
  id                  TEXT PRIMARY KEY,
  org_id              TEXT NOT NULL,
  url                 TEXT NOT NULL,
  name                TEXT,
  accepted_types      TEXT NOT NULL,   -- JSON array of WebhookType values
  retry_attempts      INTEGER NOT NULL,
  timeout_seconds     INTEGER NOT NULL,
  is_active           INTEGER NOT NULL,
  secret_generated_at INTEGER NOT NULL,
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL,
  deleted_at          INTEGER
);
CREATE INDEX webhook_destinations_org ON webhook_destinations(org_id, created_at) WHERE deleted_at IS NULL;
