-- An unused, unexpired e-mailed token of a purpose, with its user; the password it is checked against is the
-- token's own (a later registration's) or else the account's.
SELECT t.token_hash, t.user_id, u.email,
       coalesce(t.password_hash, u.password_hash) AS password_hash,
       t.password_hash AS token_password_hash
FROM account_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = %(h)s AND t.purpose = %(purpose)s AND t.used_at IS NULL AND t.expires_at > now()
