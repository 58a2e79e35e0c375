-- Endpoints of the product that receive the organization's changes as
-- Standard Webhooks. The whsec_ secret signs every message, so it is kept.
CREATE TABLE webhook_endpoints (
    id              INTEGER PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    secret          TEXT NOT NULL,
    -- A JSON array of event types; empty: every type.
    event_types     TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX webhook_endpoints_organization_idx ON webhook_endpoints (organization_id, id);

-- One row per (change, endpoint), written in the change's transaction: the
-- outbox the delivery workers drain.
CREATE TABLE webhook_deliveries (
    id                   INTEGER PRIMARY KEY,
    endpoint_id          BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    message_id           TEXT NOT NULL,
    event_type           TEXT NOT NULL,
    payload              TEXT NOT NULL,
    status               TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts             INTEGER NOT NULL DEFAULT 0,
    -- When it is due (or, while claimed, when the claim lapses).
    next_attempt_at      TIMESTAMP NOT NULL,
    last_response_status INTEGER,
    last_error           TEXT,
    created_at           TIMESTAMP NOT NULL,
    delivered_at         TIMESTAMP
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at) WHERE status <> 'PENDING';
