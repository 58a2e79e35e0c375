-- A message the SMTP server refused for good is not retried.
ALTER TABLE email_outbox ADD COLUMN failed_at TIMESTAMP;
