-- Postings (a page of the day's, by refnr) with what their summaries read, and what is stored for the models
-- that run: {model: {status, prompt_version, source_hash, attempts}}. Only an ok description is read (an error
-- keeps the last text it had, which the posting no longer shows).
SELECT p.refnr, p.title,
       CASE WHEN d.status = 'ok' THEN d.description END AS description,
       CASE WHEN d.status = 'ok' THEN d.facts END AS facts,
       (SELECT jsonb_object_agg(s.model, jsonb_build_object('status', s.status, 'prompt_version', s.prompt_version,
                                                            'source_hash', s.source_hash, 'attempts', s.attempts))
        FROM posting_summaries s WHERE s.refnr = p.refnr AND s.model = ANY(%(models)s)) AS stored
FROM postings p LEFT JOIN posting_descriptions d USING (refnr)
WHERE p.refnr = ANY(%(refnrs)s)
ORDER BY p.refnr
