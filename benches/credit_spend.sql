-- The statements orgql runs for one spendCredits call on PostgreSQL, in its
-- order (from the server's log with log_statement = all; see
-- src/domain/credits/spending.rs and mod.rs, and the change recorder):
-- the service key's lookup, then one transaction that claims the
-- idempotency key, moves the credit, writes the ledger entry (which a
-- repeat finds by its key), and records the change (audit row, webhook
-- endpoints, live event and its NOTIFY).
-- pgbench -M prepared, variables (-D): org, user, member, key_id, key_hash;
-- r makes a fresh idempotency key per transaction. (A space follows the
-- colons of the JSON texts: pgbench would read `:null` as a variable.)
\set r random(1, 9000000000000000000)
SELECT id, organization_id, last_used_at FROM service_keys WHERE secret_hash = :key_hash AND revoked_at IS NULL LIMIT 1;
BEGIN;
INSERT INTO credit_spending_keys (organization_id, idempotency_key, request, created_at)
    VALUES (:org, 'pgbench/' || CAST(:client_id AS text) || '/' || CAST(:r AS text), '{"amount": 1,"description": null,"extra": null,"op":"spend","subject": null,"userId":' || CAST(:user AS text) || '}', LOCALTIMESTAMP)
    ON CONFLICT DO NOTHING;
UPDATE memberships SET credits = credits + -1, credits_held = credits_held + 0, credits_spent = credits_spent + 1
    WHERE organization_id = :org AND user_id = :user AND credits - credits_held >= 1
    RETURNING id, organization_id, user_id, role, credits AS credits_after, credits_held, credits_spent, seat, joined_at \gset
UPDATE organizations SET credits_available = credits_available + 0, credits_distributed = credits_distributed + -1, credits_held = credits_held + 0, credits_spent = credits_spent + 1
    WHERE id = :org AND credits_available >= 0 AND credits_available + credits_distributed + credits_spent <= 2147483647
    RETURNING id, name, slug, created_at, credits_available AS pool_after, credits_distributed, credits_held AS pool_held, credits_spent AS pool_spent, standard_seat_limit, pro_seat_limit, standard_seats_used, pro_seats_used, member_count, admin_count, manager_count, basic_member_count \gset
INSERT INTO credit_ledger (organization_id, user_id, actor_id, service_key_id, kind, amount, member_credits_after, pool_available_after, hold_id, idempotency_key, description, created_at)
    VALUES (:org, :user, DEFAULT, :key_id, 'spent', 1, :credits_after, :pool_after, DEFAULT, 'pgbench/' || CAST(:client_id AS text) || '/' || CAST(:r AS text), DEFAULT, LOCALTIMESTAMP)
    RETURNING id, organization_id, user_id, actor_id, service_key_id, kind, amount, member_credits_after, pool_available_after, hold_id, idempotency_key, description, created_at;
INSERT INTO audit_events (organization_id, actor_id, service_key_id, action, target_user_id, target_email, details, created_at)
    SELECT :org, NULL, :key_id, 'credits.spent', users.id, users.email, '{"amount": 1,"balance": {"available": ' || CAST(:credits_after AS text) || ',"credits": ' || CAST(:credits_after AS text) || ',"held": 0,"spent": 1},"description": null,"hold": null,"idempotencyKey":"pgbench/' || CAST(:client_id AS text) || '/' || CAST(:r AS text) || '","pool": {"available": ' || CAST(:pool_after AS text) || '}}', LOCALTIMESTAMP
    FROM users WHERE users.id = :user
    RETURNING target_email;
SELECT w.id, w.event_types, o.slug, o.name, (SELECT email FROM users WHERE id = NULL LIMIT 1), (SELECT name FROM service_keys WHERE id = :key_id LIMIT 1)
    FROM webhook_endpoints w JOIN organizations o ON w.organization_id = o.id WHERE w.organization_id = :org AND w.enabled = true;
UPDATE live_event_sequence SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq \gset
INSERT INTO live_events (seq, organization_id, user_id, payload, created_at)
    VALUES (:last_seq, :org, :user, '{"Membership":{"kind":"CreditsChanged","organization_id":' || CAST(:org AS text) || ',"user_id":' || CAST(:user AS text) || ',"member":{"id":' || CAST(:member AS text) || ',"organization_id":' || CAST(:org AS text) || ',"user_id":' || CAST(:user AS text) || ',"role":"Member","credits":' || CAST(:credits_after AS text) || ',"credits_held": 0,"credits_spent": 1,"seat":"None","joined_at":"2026-12-08T00:00:00.000000"},"previous_role": null,"actor_id": null,"at":"2026-12-08T00:00:00.000000"}}', LOCALTIMESTAMP);
SELECT pg_notify('orgql_events', '{"seq":' || CAST(:last_seq AS text) || ',"event":{"Membership":{"kind":"CreditsChanged","organization_id":' || CAST(:org AS text) || ',"user_id":' || CAST(:user AS text) || ',"member":{"id":' || CAST(:member AS text) || ',"organization_id":' || CAST(:org AS text) || ',"user_id":' || CAST(:user AS text) || ',"role":"Member","credits":' || CAST(:credits_after AS text) || ',"credits_held": 0,"credits_spent": 1,"seat":"None","joined_at":"2026-12-08T00:00:00.000000"},"previous_role": null,"actor_id": null,"at":"2026-12-08T00:00:00.000000"}}}');
COMMIT;
