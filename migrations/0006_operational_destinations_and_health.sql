-- Operational destinations (edgehook's own events about the organization's
-- webhook destinations) live beside webhook destinations, told apart by kind;
-- a destination disabled by the health ladder says why and when.
ALTER TABLE webhook_destinations ADD COLUMN kind TEXT NOT NULL DEFAULT 'webhook';
ALTER TABLE webhook_destinations ADD COLUMN disabled_reason TEXT;
ALTER TABLE webhook_destinations ADD COLUMN disabled_at INTEGER;
