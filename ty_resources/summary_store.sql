-- Per posting of %(refnrs)s the summary to show: its ok row of the LLM model %(llm)s (NULL: none) if there is
-- one, else its ok extractive row; postings with neither give no row.
SELECT DISTINCT ON (s.refnr) s.refnr, s.model, s.prompt_version, s.summary, s.made_at,
       s.model = %(extractive)s AS extractive
FROM posting_summaries s
WHERE s.refnr = ANY(%(refnrs)s) AND s.status = 'ok'
  AND (s.model = %(extractive)s OR s.model = %(llm)s)
ORDER BY s.refnr, s.model = %(extractive)s
