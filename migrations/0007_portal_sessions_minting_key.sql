-- A portal session ends with the API key that minted it: the key is recorded,
-- and a session without one (minted before this column existed) is no longer
-- live. Live sessions are counted per organization against
-- EDGEHOOK_PORTAL_MAX_SESSIONS, and the sessions a key minted are found when
-- it is revoked.

ALTER TABLE portal_sessions ADD COLUMN api_key_id TEXT;
CREATE INDEX portal_sessions_org ON portal_sessions(org_id, expires_at);
CREATE INDEX portal_sessions_api_key ON portal_sessions(api_key_id);
