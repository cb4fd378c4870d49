-- How a destination signs the Standard Webhooks header set: 'hmac' (v1, every
-- destination so far) or 'ed25519' (v1a). Its key pair lives only in the
-- destination's Durable Object, never here.
ALTER TABLE webhook_destinations ADD COLUMN signing TEXT NOT NULL DEFAULT 'hmac';
