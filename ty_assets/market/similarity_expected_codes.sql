-- The active KldB 5-digit codes with at least TY_SIMILARITY_MIN_POSTINGS postings active on %(day)s and embedded
-- by the current model: the codes whose neighbours on that day must come from their postings.
SELECT pr.kldb_code
FROM postings p
JOIN professions pr USING (berufenet_id)
JOIN kldb_codes k ON k.code = pr.kldb_code AND k.level = 5 AND k.active
WHERE p.first_seen <= %(day)s::date
  AND (p.invalidated_on IS NULL OR p.invalidated_on > %(day)s::date)
  AND EXISTS (SELECT 1 FROM posting_embeddings e WHERE e.refnr = p.refnr AND e.model = %(model)s)
GROUP BY pr.kldb_code HAVING count(*) >= %(min_postings)s
ORDER BY 1
