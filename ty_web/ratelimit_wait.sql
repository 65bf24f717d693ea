-- A statement of its own (READ COMMITTED: a new snapshot), so that it sees the tat that refused the request,
-- which may have been committed by another worker after the refused statement's snapshot was taken.
SELECT extract(epoch FROM greatest(tat, now()) + make_interval(secs => %(interval)s)
                          - make_interval(secs => %(period)s) - now()) AS wait_s
FROM rate_limits WHERE bucket = %(bucket)s AND key = %(key)s
