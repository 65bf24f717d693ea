-- demand_snapshot's preview: the day's BERUFENET titles with the most new postings (active ones break ties).
SELECT coalesce(pr.name, '(unlabelled)') AS profession, coalesce(s.kldb_code, '') AS kldb,
       sum(s.new_postings)::int AS new, sum(s.active_postings)::int AS active
FROM demand_snapshots s LEFT JOIN professions pr ON pr.berufenet_id = s.berufenet_id
WHERE s.day = %(day)s
GROUP BY s.berufenet_id, pr.name, s.kldb_code
HAVING sum(s.new_postings) > 0
ORDER BY new DESC, active DESC, profession
LIMIT %(limit)s
