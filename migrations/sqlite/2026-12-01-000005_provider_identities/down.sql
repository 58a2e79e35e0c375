DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key ON users (email);
ALTER TABLE users DROP COLUMN email_verified;
DROP TABLE identities;
