-- The whole data model. Invariants the domain relies on are constraints here,
-- so no code path (or concurrent pair of them) can break them.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT NOT NULL CHECK (email = lower(email) AND email <> ''),
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE sessions (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE organizations (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                TEXT NOT NULL,
    slug                TEXT NOT NULL,
    created_at          TIMESTAMP NOT NULL,
    -- Credit pool: what is not distributed; distributed = sum(memberships.credits).
    credits_available   INTEGER NOT NULL DEFAULT 0 CHECK (credits_available >= 0),
    credits_distributed INTEGER NOT NULL DEFAULT 0 CHECK (credits_distributed >= 0),
    standard_seat_limit INTEGER NOT NULL DEFAULT 0 CHECK (standard_seat_limit >= 0),
    pro_seat_limit      INTEGER NOT NULL DEFAULT 0 CHECK (pro_seat_limit >= 0),
    standard_seats_used INTEGER NOT NULL DEFAULT 0,
    pro_seats_used      INTEGER NOT NULL DEFAULT 0,
    -- Member counters, kept in the transaction of every membership change so
    -- that totalCount never counts rows.
    member_count        INTEGER NOT NULL DEFAULT 0 CHECK (member_count >= 0),
    admin_count         INTEGER NOT NULL DEFAULT 0 CHECK (admin_count >= 0),
    manager_count       INTEGER NOT NULL DEFAULT 0 CHECK (manager_count >= 0),
    basic_member_count  INTEGER NOT NULL DEFAULT 0 CHECK (basic_member_count >= 0),
    -- Assigning a seat past the limit fails here, whatever the interleaving.
    CONSTRAINT organizations_standard_seats_check CHECK (standard_seats_used BETWEEN 0 AND standard_seat_limit),
    CONSTRAINT organizations_pro_seats_check CHECK (pro_seats_used BETWEEN 0 AND pro_seat_limit)
);
CREATE UNIQUE INDEX organizations_slug_key ON organizations (slug);

CREATE TABLE memberships (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MANAGER', 'MEMBER')),
    -- Orders members by role (owner first) with an index instead of a sort.
    role_rank       INTEGER GENERATED ALWAYS AS (
                        CASE role WHEN 'OWNER' THEN 0 WHEN 'ADMIN' THEN 1 WHEN 'MANAGER' THEN 2 ELSE 3 END
                    ) STORED,
    credits         INTEGER NOT NULL DEFAULT 0 CHECK (credits >= 0),
    seat            TEXT NOT NULL DEFAULT 'NONE' CHECK (seat IN ('NONE', 'STANDARD', 'PRO')),
    joined_at       TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX memberships_organization_user_key ON memberships (organization_id, user_id);
CREATE UNIQUE INDEX memberships_one_owner_key ON memberships (organization_id) WHERE role = 'OWNER';
CREATE INDEX memberships_joined_idx ON memberships (organization_id, joined_at, id);
CREATE INDEX memberships_role_idx ON memberships (organization_id, role_rank, id);
CREATE INDEX memberships_user_idx ON memberships (user_id, id);

CREATE TABLE invitations (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('ADMIN', 'MANAGER', 'MEMBER')),
    status          TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'ACCEPTED', 'REVOKED')),
    token_hash      TEXT NOT NULL,
    invited_by      BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX invitations_token_hash_key ON invitations (token_hash);
CREATE UNIQUE INDEX invitations_one_pending_key ON invitations (organization_id, lower(email)) WHERE status = 'PENDING';
CREATE INDEX invitations_organization_idx ON invitations (organization_id, id);

-- Every movement of credits, so a balance can always be explained.
CREATE TABLE credit_ledger (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         BIGINT REFERENCES users (id) ON DELETE SET NULL,
    actor_id        BIGINT REFERENCES users (id) ON DELETE SET NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('added', 'distributed', 'reclaimed', 'returned')),
    amount          INTEGER NOT NULL CHECK (amount > 0),
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX credit_ledger_organization_idx ON credit_ledger (organization_id, id);

CREATE TABLE audit_events (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    actor_id        BIGINT REFERENCES users (id) ON DELETE SET NULL,
    action          TEXT NOT NULL,
    target_user_id  BIGINT REFERENCES users (id) ON DELETE SET NULL,
    target_email    TEXT,
    details         TEXT,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX audit_events_organization_idx ON audit_events (organization_id, id);

-- Mail is written here in the transaction that causes it and delivered by a
-- worker, so an SMTP outage delays a message but never loses it.
CREATE TABLE email_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP,
    last_error      TEXT
);
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE sent_at IS NULL;
