-- Members in email or name order are a keyset walk of one organization's
-- memberships only if the order's column is on the membership row; through
-- a join to users the planner must sort, or walk every user. An account's
-- email and name never change, so these copies stay true.
ALTER TABLE memberships ADD COLUMN user_email TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN user_name TEXT NOT NULL DEFAULT '';
UPDATE memberships m SET user_email = u.email, user_name = u.name FROM users u WHERE u.id = m.user_id;
ALTER TABLE memberships ALTER COLUMN user_email DROP DEFAULT;
ALTER TABLE memberships ALTER COLUMN user_name DROP DEFAULT;
CREATE INDEX memberships_email_idx ON memberships (organization_id, user_email, id);
CREATE INDEX memberships_name_idx ON memberships (organization_id, user_name, id);
