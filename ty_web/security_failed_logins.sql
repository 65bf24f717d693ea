-- Failed logins within the window, per account and per address, and how long until the oldest of each
-- leaves the window (what Retry-After says).
SELECT count(*) FILTER (WHERE account = %(account)s) AS by_account,
       count(*) FILTER (WHERE address = %(address)s) AS by_address,
       extract(epoch FROM min(attempted_at) FILTER (WHERE account = %(account)s)
                         + make_interval(secs => %(window)s) - now()) AS account_wait,
       extract(epoch FROM min(attempted_at) FILTER (WHERE address = %(address)s)
                         + make_interval(secs => %(window)s) - now()) AS address_wait
FROM login_attempts
WHERE NOT succeeded AND attempted_at > now() - make_interval(secs => %(window)s)
  AND (account = %(account)s OR address = %(address)s)
