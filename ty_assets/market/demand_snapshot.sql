-- One day's demand: every posting active on %(day)s, new on it or invalidated on it,
-- counted per label (title -> KldB code, domain, level; NULL bucket: no label), state and offer type.
-- Active on D: first_seen <= D AND (invalidated_on IS NULL OR invalidated_on > D).
INSERT INTO demand_snapshots (day, kldb_code, berufenet_id, domain_code, level, state, offer_type,
                              active_postings, new_postings, invalidated_postings, computed_at)
SELECT %(day)s::date, pr.kldb_code, p.berufenet_id, pr.domain_code, pr.level, p.state, p.offer_type,
       count(*) FILTER (WHERE p.invalidated_on IS NULL OR p.invalidated_on > %(day)s::date),
       count(*) FILTER (WHERE p.first_seen = %(day)s::date),
       count(*) FILTER (WHERE p.invalidated_on = %(day)s::date),
       now()
FROM postings p
LEFT JOIN professions pr ON pr.berufenet_id = p.berufenet_id
WHERE p.first_seen <= %(day)s::date
  AND (p.invalidated_on IS NULL OR p.invalidated_on >= %(day)s::date)
GROUP BY p.berufenet_id, pr.kldb_code, pr.domain_code, pr.level, p.state, p.offer_type
