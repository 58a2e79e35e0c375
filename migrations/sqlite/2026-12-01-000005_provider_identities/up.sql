-- Users of the product's identity provider: found by (issuer, subject),
-- created on first sight. Their password_hash is '' (no password).
CREATE TABLE identities (
    id         INTEGER PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX identities_issuer_subject_key ON identities (issuer, subject);
CREATE INDEX identities_user_idx ON identities (user_id);

-- Whether the account's address is trusted: a password account's address
-- is its login (an invitation it accepts was mailed there); a provider's
-- user's address only when the provider says it is verified. Only trusted
-- addresses are unique, accept invitations and link accounts.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT TRUE;
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key ON users (email) WHERE email_verified;
