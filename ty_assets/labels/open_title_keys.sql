-- The day's title keys whose label is open (ty_resources/labels.py OPEN_REASON_SQL: missing, error,
-- pending_llm, made with another catalogue version than the current one, revised (another decision version, or
-- an LLM verdict of another prompt version), or left for the web stage), each with an example title and a
-- description excerpt of one of its postings. A posting's title key is postings.title_normalized, set at ingest.
SELECT p.title_normalized AS title_key, min(p.title) AS example,
       min(left(d.description, %(chars)s)) FILTER (WHERE d.description <> '') AS excerpt
FROM postings p
LEFT JOIN title_labels l ON l.title_key = p.title_normalized
LEFT JOIN posting_descriptions d ON d.refnr = p.refnr AND d.status = 'ok'
WHERE {day_postings}
  AND ({open_reason}) IS NOT NULL
GROUP BY p.title_normalized
