-- A user's matches, each with its posting, the posting's label, and whether the match's profession is on
-- the user's negative filter; the caller narrows, orders and limits them. The posting's own KldB code
-- (its label's) is posting_kldb_code: kldb_code is the match's, as computed.
SELECT m.id, m.score, m.components, m.kldb_code, (s.kldb_code IS NOT NULL) AS suppressed, m.computed_at,
       m.rating, m.feedback, m.decision, m.rated_at,
       p.refnr, p.title, p.employer, p.city, p.plz, p.state, p.published_on, p.external_url,
       (p.invalidated_at IS NULL) AS active, p.berufenet_id, pr.name AS profession_name,
       pr.kldb_code AS posting_kldb_code, pr.level
FROM matches m
JOIN postings p ON p.refnr = m.refnr
LEFT JOIN professions pr ON pr.berufenet_id = p.berufenet_id
LEFT JOIN suppressions s ON s.user_id = m.user_id AND s.kldb_code = m.kldb_code
WHERE m.user_id = %(user_id)s
