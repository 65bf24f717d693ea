INSERT INTO posting_descriptions AS d (refnr, status, description, facts, attempts, last_error, fetched_at)
VALUES (%(refnr)s, %(status)s, %(description)s, %(facts)s, %(failed)s, %(error)s, now())
ON CONFLICT (refnr) DO UPDATE SET
    status = EXCLUDED.status,
    description = coalesce(EXCLUDED.description, d.description),
    facts = coalesce(EXCLUDED.facts, d.facts),
    attempts = d.attempts + EXCLUDED.attempts,
    last_error = EXCLUDED.last_error,
    fetched_at = EXCLUDED.fetched_at
