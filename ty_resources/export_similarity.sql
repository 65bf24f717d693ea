-- tyctl export similarity: one day of profession_similarity (%(day)s) with both codes' KldB titles.
SELECT s.day, s.kldb_code, k.title AS kldb_title, s.rank, s.neighbour_code, n.title AS neighbour_title, s.score,
       s.basis, s.neighbour_basis, s.postings, s.model
FROM profession_similarity s
JOIN kldb_codes k ON k.code = s.kldb_code
JOIN kldb_codes n ON n.code = s.neighbour_code
WHERE s.day = %(day)s
ORDER BY s.kldb_code, s.rank
