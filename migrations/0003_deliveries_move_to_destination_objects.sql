-- Events, deliveries and attempts move out of D1: each destination's Durable
-- Object keeps its own delivery log. D1 keeps the control plane only.
-- (No deployment holds data in these tables yet.)

DROP TABLE IF EXISTS delivery_attempts;
DROP TABLE IF EXISTS webhook_deliveries;
DROP TABLE IF EXISTS webhook_events;
