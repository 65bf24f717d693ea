SELECT pr.kldb_code, count(*), avg(e.embedding)
FROM postings p
JOIN professions pr ON pr.berufenet_id = p.berufenet_id
JOIN kldb_codes k ON k.code = pr.kldb_code AND k.level = 5 AND k.active
JOIN posting_embeddings e ON e.refnr = p.refnr AND e.model = %(model)s
WHERE p.invalidated_at IS NULL
GROUP BY pr.kldb_code
HAVING count(*) >= %(min_postings)s
