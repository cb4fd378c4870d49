-- Customer-portal sessions: minted by a platform for one of its customers,
-- valid until they expire or are revoked. The token itself is never stored.

CREATE TABLE portal_sessions (
  id               TEXT PRIMARY KEY,
  org_id           TEXT NOT NULL REFERENCES organizations(id),
  created_by       TEXT NOT NULL,        -- the user who minted it
  read_only        INTEGER NOT NULL,
  allowed_origins  TEXT NOT NULL,        -- JSON array of origins that may frame the portal
  expires_at       INTEGER NOT NULL,     -- Unix ms
  revoked_at       INTEGER,              -- Unix ms
  created_at       INTEGER NOT NULL
);
CREATE INDEX portal_sessions_live ON portal_sessions(expires_at) WHERE revoked_at IS NULL;
