DROP TABLE account_tokens;
DROP INDEX users_password_email_key;
-- Password accounts counted as proven before; one that another account has
-- proven the address of since stays unproven (the address is unique among
-- proven ones).
UPDATE users SET email_verified = TRUE
WHERE password_hash <> '' AND email_verified = FALSE
  AND NOT EXISTS (
      SELECT 1 FROM users AS proven WHERE proven.email = users.email AND proven.email_verified
  );
