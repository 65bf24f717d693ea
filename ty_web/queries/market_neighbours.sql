-- The KldB codes most like one code on the latest day computed (profession_similarity), best first, with their
-- titles.
SELECT s.rank, s.neighbour_code AS kldb_code, k.title, s.score, s.neighbour_basis AS basis, s.model,
       s.computed_at, s.day
FROM profession_similarity_latest s
JOIN kldb_codes k ON k.code = s.neighbour_code
WHERE s.kldb_code = %(code)s
ORDER BY s.rank
