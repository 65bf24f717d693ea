-- A posting's public fields (never its raw record), its label's profession and its description (when
-- the fetch succeeded).
SELECT p.refnr, p.title, p.employer, p.beruf, p.plz, p.city, p.state, p.offer_type, p.published_on, p.entry_date,
       p.first_seen, p.last_seen, p.invalidated_at IS NULL AS active, p.invalidated_on,
       pr.berufenet_id, pr.name, pr.kldb_code, pr.level, p.label_source,
       CASE WHEN d.status = 'ok' THEN d.description END AS description,
       p.external_url
FROM postings p
LEFT JOIN professions pr ON pr.berufenet_id = p.berufenet_id
LEFT JOIN posting_descriptions d ON d.refnr = p.refnr
WHERE p.refnr = %(refnr)s
