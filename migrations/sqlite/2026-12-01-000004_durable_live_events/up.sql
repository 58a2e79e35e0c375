-- Live events are recorded in the transaction of their change, numbered by
-- one counter row whose lock is held until commit: numbers are gap-free and
-- commit in order, so "every event after N" is exact on every instance, and
-- a listener or a client that lost its connection resumes from its last N.
CREATE TABLE live_event_sequence (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq       BIGINT NOT NULL,
    -- Events up to here have been pruned: an older cursor cannot resume.
    pruned_through BIGINT NOT NULL
);
INSERT INTO live_event_sequence (id, last_seq, pruned_through) VALUES (1, 0, 0);

CREATE TABLE live_events (
    seq             BIGINT PRIMARY KEY,
    organization_id BIGINT,
    user_id         BIGINT,
    payload         TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX live_events_organization_idx ON live_events (organization_id, seq);
CREATE INDEX live_events_user_idx ON live_events (user_id, seq);
CREATE INDEX live_events_created_idx ON live_events (created_at);
