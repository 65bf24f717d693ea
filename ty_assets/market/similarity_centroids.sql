-- Per active KldB 5-digit code: its postings active on %(day)s (first_seen <= D, not invalidated on or before D)
-- that the current model embedded, their count and the mean of their vectors (pgvector's avg: one row per code
-- leaves the server).
SELECT pr.kldb_code, count(*), avg(e.embedding)
FROM postings p
JOIN professions pr ON pr.berufenet_id = p.berufenet_id
JOIN kldb_codes k ON k.code = pr.kldb_code AND k.level = 5 AND k.active
JOIN posting_embeddings e ON e.refnr = p.refnr AND e.model = %(model)s
WHERE p.first_seen <= %(day)s::date
  AND (p.invalidated_on IS NULL OR p.invalidated_on > %(day)s::date)
GROUP BY pr.kldb_code
HAVING count(*) >= %(min_postings)s
