-- Credits the product spends: holds, spends, the pool's lifetime counters,
-- a ledger that says every balance after each movement, and credit requests.

-- A member's held credits are part of their credits; spent ones left them.
ALTER TABLE memberships ADD COLUMN credits_held INTEGER NOT NULL DEFAULT 0
    CHECK (credits_held BETWEEN 0 AND credits);
ALTER TABLE memberships ADD COLUMN credits_spent INTEGER NOT NULL DEFAULT 0
    CHECK (credits_spent >= 0);

ALTER TABLE organizations ADD COLUMN credits_held INTEGER NOT NULL DEFAULT 0
    CHECK (credits_held BETWEEN 0 AND credits_distributed);
ALTER TABLE organizations ADD COLUMN credits_spent INTEGER NOT NULL DEFAULT 0
    CHECK (credits_spent >= 0);
-- What was ever added is available + distributed + spent: the ledger's
-- ADDED entries sum to it.

ALTER TABLE audit_events ADD COLUMN service_key_id BIGINT REFERENCES service_keys (id) ON DELETE SET NULL;

CREATE TABLE credit_holds (
    id              INTEGER PRIMARY KEY,
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

-- The ledger's kinds grow, so SQLite rebuilds it; the balances after each
-- earlier entry come from replaying it.
CREATE TABLE credit_ledger_new (
    id                   INTEGER PRIMARY KEY,
    organization_id      BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id              BIGINT REFERENCES users (id) ON DELETE SET NULL,
    actor_id             BIGINT REFERENCES users (id) ON DELETE SET NULL,
    kind                 TEXT NOT NULL CHECK (kind IN ('added', 'distributed', 'reclaimed', 'returned', 'held', 'settled', 'released', 'spent')),
    amount               INTEGER NOT NULL CHECK (amount > 0),
    created_at           TIMESTAMP NOT NULL,
    member_credits_after INTEGER,
    pool_available_after INTEGER NOT NULL,
    hold_id              BIGINT REFERENCES credit_holds (id) ON DELETE SET NULL,
    idempotency_key      TEXT,
    description          TEXT,
    service_key_id       BIGINT REFERENCES service_keys (id) ON DELETE SET NULL
);
INSERT INTO credit_ledger_new
    (id, organization_id, user_id, actor_id, kind, amount, created_at, member_credits_after, pool_available_after)
SELECT id, organization_id, user_id, actor_id, kind, amount, created_at,
       CASE WHEN user_id IS NULL THEN NULL ELSE
           SUM(CASE kind WHEN 'distributed' THEN amount WHEN 'added' THEN 0 ELSE -amount END)
               OVER (PARTITION BY organization_id, user_id ORDER BY id) END,
       SUM(CASE kind WHEN 'distributed' THEN -amount ELSE amount END)
           OVER (PARTITION BY organization_id ORDER BY id)
FROM credit_ledger;
DROP TABLE credit_ledger;
ALTER TABLE credit_ledger_new RENAME TO credit_ledger;
CREATE INDEX credit_ledger_organization_idx ON credit_ledger (organization_id, id);
CREATE INDEX credit_ledger_member_idx ON credit_ledger (organization_id, user_id, id);
CREATE INDEX credit_ledger_key_idx ON credit_ledger (organization_id, idempotency_key, id)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE credit_requests (
    id              INTEGER PRIMARY KEY,
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
