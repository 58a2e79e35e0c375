DROP TABLE email_outbox;
DROP TABLE audit_events;
DROP TABLE credit_ledger;
DROP TABLE invitations;
DROP TABLE memberships;
DROP TABLE organizations;
DROP TABLE sessions;
DROP TABLE users;
