-- A verification link carries the password hash of the registration that asked for it: the mailbox owner who
-- registers an address someone else registered first (and never verified) verifies with their own password, and
-- the account takes it. NULL: the account's own password (its first registration).
ALTER TABLE account_tokens ADD COLUMN password_hash text;
