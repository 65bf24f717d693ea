-- The live session of a token (by its hash), with its user: unexpired, and for a cookie session used within the
-- idle timeout. Marks it used at most every TOUCH_INTERVAL_S seconds, so a busy session does not write on every
-- request (the idle timeout is hours, the touch interval minutes).
WITH live AS (
    SELECT s.token_hash, s.user_id, s.kind, s.csrf_token_hash, s.expires_at, s.last_used_at
    FROM sessions s
    WHERE s.token_hash = %(h)s AND s.expires_at > now()
      AND (s.kind = 'bearer' OR s.last_used_at > now() - make_interval(secs => %(idle)s))
), touched AS (
    UPDATE sessions SET last_used_at = now()
    WHERE token_hash IN (SELECT token_hash FROM live WHERE last_used_at < now() - make_interval(secs => %(touch)s))
)
SELECT l.user_id, u.email, l.kind, l.csrf_token_hash, l.expires_at
FROM live l JOIN users u ON u.id = l.user_id
