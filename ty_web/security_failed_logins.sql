-- The failures before attempt %(id)s within the window: per account and per address (attempts from unknown
-- devices), and per known device; with the latest of each (the delay runs from it) and the address's first
-- (its hard stop lasts until that one leaves the window).
SELECT count(*) FILTER (WHERE account = %(account)s AND device IS NULL) AS account_failures,
       max(attempted_at) FILTER (WHERE account = %(account)s AND device IS NULL) AS account_last,
       count(*) FILTER (WHERE address = %(address)s AND device IS NULL) AS address_failures,
       max(attempted_at) FILTER (WHERE address = %(address)s AND device IS NULL) AS address_last,
       min(attempted_at) FILTER (WHERE address = %(address)s AND device IS NULL) AS address_first,
       count(*) FILTER (WHERE device = %(device)s) AS device_failures,
       max(attempted_at) FILTER (WHERE device = %(device)s) AS device_last,
       now() AS now
FROM login_attempts
WHERE NOT succeeded AND id < %(id)s AND attempted_at > now() - make_interval(secs => %(window)s)
  AND (account = %(account)s OR address = %(address)s OR device = %(device)s)
