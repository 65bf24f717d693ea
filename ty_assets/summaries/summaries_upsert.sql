-- One summary per posting and model: an error counts one more failed run, anything else starts the count again.
INSERT INTO posting_summaries AS s (refnr, model, status, summary, prompt_version, source_hash, attempts, last_error,
                                    made_at)
VALUES (%(refnr)s, %(model)s, %(status)s, %(summary)s, %(prompt_version)s, %(source_hash)s,
        CASE WHEN %(status)s = 'error' THEN 1 ELSE 0 END, %(error)s, now())
ON CONFLICT (refnr, model) DO UPDATE SET
    status = EXCLUDED.status,
    summary = EXCLUDED.summary,
    prompt_version = EXCLUDED.prompt_version,
    source_hash = EXCLUDED.source_hash,
    attempts = CASE WHEN EXCLUDED.status = 'error' THEN s.attempts + 1 ELSE 0 END,
    last_error = EXCLUDED.last_error,
    made_at = EXCLUDED.made_at
