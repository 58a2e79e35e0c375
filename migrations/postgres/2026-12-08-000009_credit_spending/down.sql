DROP TABLE credit_requests;
DROP INDEX credit_ledger_key_idx;
DROP INDEX credit_ledger_member_idx;
DELETE FROM credit_ledger WHERE kind IN ('held', 'settled', 'released', 'spent');
ALTER TABLE credit_ledger
    DROP COLUMN member_credits_after,
    DROP COLUMN pool_available_after,
    DROP COLUMN hold_id,
    DROP COLUMN idempotency_key,
    DROP COLUMN description,
    DROP COLUMN service_key_id,
    DROP CONSTRAINT credit_ledger_kind_check,
    ADD CONSTRAINT credit_ledger_kind_check CHECK (kind IN ('added', 'distributed', 'reclaimed', 'returned'));
DROP TABLE credit_spending_keys;
DROP TABLE credit_holds;
ALTER TABLE audit_events DROP COLUMN service_key_id;
ALTER TABLE organizations
    DROP COLUMN credits_spent,
    DROP COLUMN credits_held;
ALTER TABLE memberships DROP COLUMN credits_spent, DROP COLUMN credits_held;
