-- Credits the product spends: holds, spends, the pool's lifetime counters,
-- a ledger that says every balance after each movement, and credit requests.

-- A member's held credits are part of their credits; spent ones left them.
ALTER TABLE memberships
    ADD COLUMN credits_held INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN credits_spent INTEGER NOT NULL DEFAULT 0 CHECK (credits_spent >= 0),
    ADD CONSTRAINT memberships_credits_held_check CHECK (credits_held BETWEEN 0 AND credits);

ALTER TABLE organizations
    ADD COLUMN credits_held INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN credits_spent INTEGER NOT NULL DEFAULT 0 CHECK (credits_spent >= 0),
    ADD CONSTRAINT organizations_credits_held_check CHECK (credits_held BETWEEN 0 AND credits_distributed);
-- What was ever added is available + distributed + spent: the ledger's
-- ADDED entries sum to it.

ALTER TABLE audit_events ADD COLUMN service_key_id BIGINT REFERENCES service_keys (id) ON DELETE SET NULL;

CREATE TABLE credit_holds (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount          INTEGER NOT NULL CHECK (amount > 0),
    settled_amount  INTEGER CHECK (settled_amount BETWEEN 0 AND amount),
    status          TEXT NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'settled', 'released', 'expired')),
    description     TEXT,
    idempotency_key TEXT NOT NULL,
    service_key_id  BIGINT REFERENCES service_keys (id) ON DELETE SET NULL,
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    ended_at        TIMESTAMP,
    CHECK ((status = 'held') = (ended_at IS NULL)),
    CHECK ((status = 'settled') = (settled_amount IS NOT NULL))
);
CREATE INDEX credit_holds_member_idx ON credit_holds (organization_id, user_id, id);
CREATE INDEX credit_holds_due_idx ON credit_holds (expires_at) WHERE status = 'held';

-- What each spending call's key stood for: its input. What it made are the
-- ledger entries that carry the key.
CREATE TABLE credit_spending_keys (
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    request         TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (organization_id, idempotency_key)
);

ALTER TABLE credit_ledger
    DROP CONSTRAINT credit_ledger_kind_check,
    ADD CONSTRAINT credit_ledger_kind_check
        CHECK (kind IN ('added', 'distributed', 'reclaimed', 'returned', 'held', 'settled', 'released', 'spent')),
    ADD COLUMN member_credits_after INTEGER,
    ADD COLUMN pool_available_after INTEGER,
    ADD COLUMN hold_id BIGINT REFERENCES credit_holds (id) ON DELETE SET NULL,
    ADD COLUMN idempotency_key TEXT,
    ADD COLUMN description TEXT,
    ADD COLUMN service_key_id BIGINT REFERENCES service_keys (id) ON DELETE SET NULL;
-- The balances after each earlier entry come from replaying the ledger.
UPDATE credit_ledger SET member_credits_after = replayed.member_after,
                         pool_available_after = replayed.pool_after
FROM (
    SELECT id,
           CASE WHEN user_id IS NULL THEN NULL ELSE
               SUM(CASE kind WHEN 'distributed' THEN amount WHEN 'added' THEN 0 ELSE -amount END)
                   OVER (PARTITION BY organization_id, user_id ORDER BY id) END AS member_after,
           SUM(CASE kind WHEN 'distributed' THEN -amount ELSE amount END)
               OVER (PARTITION BY organization_id ORDER BY id) AS pool_after
    FROM credit_ledger
) AS replayed
WHERE credit_ledger.id = replayed.id;
ALTER TABLE credit_ledger ALTER COLUMN pool_available_after SET NOT NULL;
CREATE INDEX credit_ledger_member_idx ON credit_ledger (organization_id, user_id, id);
CREATE INDEX credit_ledger_key_idx ON credit_ledger (organization_id, idempotency_key, id)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE credit_requests (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount          INTEGER NOT NULL CHECK (amount > 0),
    reason          TEXT,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'declined', 'cancelled')),
    approved_amount INTEGER CHECK (approved_amount > 0),
    decided_by      BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at      TIMESTAMP NOT NULL,
    decided_at      TIMESTAMP
);
CREATE UNIQUE INDEX credit_requests_one_pending_key ON credit_requests (organization_id, user_id) WHERE status = 'pending';
CREATE INDEX credit_requests_organization_idx ON credit_requests (organization_id, id);
