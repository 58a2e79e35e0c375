ALTER TABLE webhook_deliveries DROP COLUMN claimed_by;
ALTER TABLE email_outbox DROP COLUMN claimed_by;
