-- Who holds a claim: an instance that restarts takes its own claims back
-- at once instead of waiting for them to lapse.
ALTER TABLE email_outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN claimed_by TEXT;
