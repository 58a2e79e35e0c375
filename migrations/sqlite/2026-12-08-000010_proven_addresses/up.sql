-- Proven addresses and the way back in: an address counts as proven only by
-- a provider token with email_verified, an invitation mailed to it and
-- accepted, or the link of a verification mail; a forgotten password is
-- reset by the link of a reset mail.

-- A password account's address is its login, proven or not: one password
-- account per address (users_email_key keeps one proven holder per address).
CREATE UNIQUE INDEX users_password_email_key ON users (email) WHERE password_hash <> '';

-- Until now every password account counted as proven the moment it signed
-- up. Those that have shown they read their mail keep it: the ones linked to
-- a provider identity (linked by a verified address) and those that accepted
-- an invitation mailed to their address. The others are unproven until they
-- follow a verification link; nothing else about them changes. New rows set
-- email_verified themselves (the default stays, as SQLite cannot alter one).
UPDATE users SET email_verified = FALSE
WHERE password_hash <> ''
  AND NOT EXISTS (SELECT 1 FROM identities WHERE identities.user_id = users.id)
  AND NOT EXISTS (
      SELECT 1 FROM invitations
      WHERE invitations.email = users.email AND invitations.status = 'ACCEPTED'
  );

-- The tokens that verification and reset mails carry, stored only as their
-- hash, each for the address it was mailed to; single use (used_at).
CREATE TABLE account_tokens (
    id         INTEGER PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('VERIFY_EMAIL', 'RESET_PASSWORD')),
    email      TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE UNIQUE INDEX account_tokens_token_hash_key ON account_tokens (token_hash);
-- The throttles count an account's recent tokens of one purpose.
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose, created_at);
