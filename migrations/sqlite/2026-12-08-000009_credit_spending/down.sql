DROP TABLE credit_requests;
DROP INDEX credit_ledger_key_idx;
DROP INDEX credit_ledger_member_idx;
DELETE FROM credit_ledger WHERE kind IN ('held', 'settled', 'released', 'spent');
ALTER TABLE credit_ledger DROP COLUMN member_credits_after;
ALTER TABLE credit_ledger DROP COLUMN pool_available_after;
ALTER TABLE credit_ledger DROP COLUMN hold_id;
ALTER TABLE credit_ledger DROP COLUMN idempotency_key;
ALTER TABLE credit_ledger DROP COLUMN description;
ALTER TABLE credit_ledger DROP COLUMN service_key_id;
DROP TABLE credit_spending_keys;
DROP TABLE credit_holds;
-- SQLite cannot drop a column that references another table: audit_events
-- keeps service_key_id, which the earlier schema does not read.
ALTER TABLE organizations DROP COLUMN credits_spent;
ALTER TABLE organizations DROP COLUMN credits_held;
ALTER TABLE memberships DROP COLUMN credits_spent;
ALTER TABLE memberships DROP COLUMN credits_held;
