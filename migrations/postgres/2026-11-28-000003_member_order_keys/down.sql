DROP INDEX memberships_name_idx;
DROP INDEX memberships_email_idx;
ALTER TABLE memberships DROP COLUMN user_name;
ALTER TABLE memberships DROP COLUMN user_email;
