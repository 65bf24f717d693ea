-- The unexpired session of a token (by its hash), with its user; marks it used at most every TOUCH_INTERVAL_S
-- seconds, so a busy session does not write on every request.
WITH touched AS (
    UPDATE sessions SET last_used_at = now()
    WHERE token_hash = %(h)s AND expires_at > now()
      AND last_used_at < now() - make_interval(secs => %(touch)s)
)
SELECT s.user_id, u.email, s.kind, s.csrf_token_hash, s.expires_at
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_hash = %(h)s AND s.expires_at > now()
