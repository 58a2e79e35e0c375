-- Credentials of the product's back-end services, each bound to one
-- organization. The secret is shown once and kept only as its SHA-256.
CREATE TABLE service_keys (
    id              INTEGER PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    secret_hash     TEXT NOT NULL,
    created_by      BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at      TIMESTAMP NOT NULL,
    last_used_at    TIMESTAMP,
    revoked_at      TIMESTAMP
);
CREATE UNIQUE INDEX service_keys_secret_hash_key ON service_keys (secret_hash);
CREATE INDEX service_keys_organization_idx ON service_keys (organization_id, id);
