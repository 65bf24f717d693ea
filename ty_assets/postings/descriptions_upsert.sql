INSERT INTO posting_descriptions AS d (refnr, status, description, attempts, last_error, fetched_at)
VALUES (%(refnr)s, %(status)s, %(description)s, %(failed)s, %(error)s, now())
ON CONFLICT (refnr) DO UPDATE SET
    status = EXCLUDED.status,
    description = coalesce(EXCLUDED.description, d.description),
    attempts = d.attempts + EXCLUDED.attempts,
    last_error = EXCLUDED.last_error,
    fetched_at = EXCLUDED.fetched_at
