-- The day's postings: with a description to summarise, and those of them with an ok summary of each model that
-- has rows for the day (%(extractive)s first).
SELECT count(*) AS postings,
       count(*) FILTER (WHERE d.status = 'ok' AND d.description <> '') AS described,
       count(*) FILTER (WHERE d.status = 'ok' AND d.description <> '' AND NOT EXISTS (
           SELECT 1 FROM posting_summaries s
           WHERE s.refnr = p.refnr AND s.model = %(extractive)s AND s.status = 'ok')) AS without_summary,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM posting_summaries s
           WHERE s.refnr = p.refnr AND s.model <> %(extractive)s AND s.status = 'ok')) AS with_llm_summary,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM posting_summaries s WHERE s.refnr = p.refnr AND s.status = 'error')) AS with_error
FROM postings p LEFT JOIN posting_descriptions d USING (refnr)
WHERE {day_postings}
