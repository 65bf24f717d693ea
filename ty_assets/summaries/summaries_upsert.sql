-- One summary per posting and model: an error counts one more failed run on the same input and prompt (a changed
-- source_hash or prompt_version starts the count over at 1), anything else starts the count again at 0.
INSERT INTO posting_summaries AS s (refnr, model, status, summary, prompt_version, source_hash, attempts, last_error,
                                    made_at)
VALUES (%(refnr)s, %(model)s, %(status)s, %(summary)s, %(prompt_version)s, %(source_hash)s,
        CASE WHEN %(status)s = 'error' THEN 1 ELSE 0 END, %(error)s, now())
ON CONFLICT (refnr, model) DO UPDATE SET
    status = EXCLUDED.status,
    summary = EXCLUDED.summary,
    prompt_version = EXCLUDED.prompt_version,
    source_hash = EXCLUDED.source_hash,
    attempts = CASE WHEN EXCLUDED.status <> 'error' THEN 0
                    WHEN s.source_hash <> EXCLUDED.source_hash OR s.prompt_version <> EXCLUDED.prompt_version THEN 1
                    ELSE s.attempts + 1 END,
    last_error = EXCLUDED.last_error,
    made_at = EXCLUDED.made_at
