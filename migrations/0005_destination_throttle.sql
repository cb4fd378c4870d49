-- A destination's optional throttle: at most this many webhooks a second
-- (1–1000), or NULL for none.
ALTER TABLE webhook_destinations ADD COLUMN max_per_second INTEGER;
