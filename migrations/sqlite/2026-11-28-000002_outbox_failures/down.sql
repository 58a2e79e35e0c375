ALTER TABLE email_outbox DROP COLUMN failed_at;
