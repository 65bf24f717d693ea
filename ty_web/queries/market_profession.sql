-- A catalogue profession with its KldB code's and domain's titles, and how many open postings carry it.
SELECT p.berufenet_id, p.name, p.name_male, p.name_female, p.kldb_code, k.title AS kldb_title, p.level,
       p.is_supervisor, p.domain_code, dk.title AS domain_title, p.active,
       (SELECT count(*) FROM postings x WHERE x.berufenet_id = p.berufenet_id AND x.invalidated_at IS NULL)
           AS active_postings
FROM professions p
JOIN kldb_codes k ON k.code = p.kldb_code
LEFT JOIN kldb_codes dk ON dk.code = p.domain_code
WHERE p.berufenet_id = %(id)s
