-- One request of a key against a limit (GCRA): allowed (a row returned) when its theoretical arrival time,
-- moved by one interval, stays within one period from now; a refused request leaves the row as it was.
INSERT INTO rate_limits AS r (bucket, key, tat)
VALUES (%(bucket)s, %(key)s, now() + make_interval(secs => %(interval)s))
ON CONFLICT (bucket, key) DO UPDATE
    SET tat = greatest(r.tat, now()) + make_interval(secs => %(interval)s)
    WHERE greatest(r.tat, now()) + make_interval(secs => %(interval)s) <= now() + make_interval(secs => %(period)s)
RETURNING 1 AS allowed
