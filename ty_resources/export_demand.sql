-- tyctl export demand: one day of demand_snapshots (%(day)s) with the KldB and BERUFENET titles beside the codes.
SELECT s.day, s.kldb_code, k.title AS kldb_title, s.berufenet_id, p.name AS profession, s.domain_code,
       s.level, s.state, s.offer_type, s.active_postings, s.new_postings, s.invalidated_postings
FROM demand_snapshots s
LEFT JOIN professions p ON p.berufenet_id = s.berufenet_id
LEFT JOIN kldb_codes k ON k.code = s.kldb_code
WHERE s.day = %(day)s
ORDER BY s.kldb_code NULLS LAST, s.berufenet_id NULLS LAST, s.state, s.offer_type NULLS LAST
